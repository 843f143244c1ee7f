import Basics
import BazarCore
import Foundation

/// How often bazarctl's supervisor started each process again after it died: the file the
/// supervisor keeps in `$BAZAR_VAR/run`, one `NAME COUNT` line per process it watches (written
/// when it starts, every count at 0 or where an earlier supervisor left it), replaced whole on
/// every restart (so a reader never sees half of it).
struct SupervisorRestarts: Sendable {
    /// The counts file; empty: no supervisor reports here.
    let file: String

    /// `bazar_supervisor_restarts_total{replica="…"}` (the process restarted), into `exposition`.
    func write(to exposition: inout Exposition) {
        guard let counts = counts() else { return }
        exposition.family("bazar_supervisor_restarts_total", .counter,
                          "Times the supervisor started a process again after it died (not stopped by bazarctl).")
        for (process, count) in counts.sorted(by: { $0.key < $1.key }) {
            exposition.sample("bazar_supervisor_restarts_total", [("replica", process)], count)
        }
    }

    /// The processes the supervisor watches, sorted (none when no supervisor reports here).
    func processes() -> [String] {
        (counts() ?? [:]).keys.sorted()
    }

    /// Each process's count, nil when there is no file to read.
    private func counts() -> [String: Int]? {
        guard !file.isEmpty, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        var counts: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let count = Int(fields[1]), count >= 0 { counts[String(fields[0])] = count }
        }
        return counts
    }
}
