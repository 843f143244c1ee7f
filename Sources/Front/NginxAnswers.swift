import Basics
import BazarCore
import Foundation

/// How many answers nginx made itself (an unknown route, a body too large, a refusal under
/// overload, a front that failed), by status: the file bazarctl's supervisor keeps in
/// `$BAZAR_VAR/run`, counting nginx's `log/nginx-answers.log`, one `STATUS COUNT` line per
/// status (and a `read BYTES` line of its own), replaced whole at each count. No tier sees
/// these answers, so no other counter has them.
struct NginxAnswers: Sendable {
    /// The counts file; empty: no supervisor counts here.
    let file: String

    /// `bazar_nginx_answers_total{status="…"}`, into `exposition`.
    func write(to exposition: inout Exposition) {
        guard !file.isEmpty, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return }
        var counts: [Int: Int] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let status = Int(fields[0]), (100...599).contains(status), let count = Int(fields[1]), count >= 0 {
                counts[status] = count
            }
        }
        exposition.family("bazar_nginx_answers_total", .counter,
                          "Answers nginx made itself, which reached no tier (counted by the supervisor from nginx's log).")
        for (status, count) in counts.sorted(by: { $0.key < $1.key }) {
            exposition.sample("bazar_nginx_answers_total", [("status", String(status))], count)
        }
    }
}
