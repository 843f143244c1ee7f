import Foundation
import XCTest

/// What /proc says about the stack's processes (for the supervision, privilege and log tests).
enum Processes {
    /// The command line of a process, its arguments joined by spaces ("" when it is gone).
    static func commandLine(_ pid: Int32) -> String {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "" }
        return String(decoding: data, as: UTF8.self).split(separator: "\0").joined(separator: " ")
    }

    /// Whether the process exists and is not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        return field("State", of: pid)?.hasPrefix("Z") != true
    }

    /// A line of /proc/PID/status ("Uid", "Gid", "PPid", …), without its name.
    static func field(_ name: String, of pid: Int32) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("\(name):") {
            return line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    /// The real, effective, saved and filesystem uids (or gids) of a process.
    static func ids(_ name: String, of pid: Int32) -> [UInt32] {
        (field(name, of: pid) ?? "").split(whereSeparator: \.isWhitespace).compactMap { UInt32($0) }
    }

    /// Every live process whose command line contains all of `parts`.
    static func matching(_ parts: String...) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            let line = commandLine(pid)
            return parts.allSatisfy(line.contains) && isAlive(pid)
        }
    }

    /// The live children of a process.
    static func children(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { field("PPid", of: $0) == "\(parent)" && isAlive($0) }
    }

    /// The open descriptors of a process that point into `directory`: descriptor → path.
    static func descriptors(of pid: Int32, under directory: String) -> [Int: String] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        var result: [Int: String] = [:]
        for fd in fds {
            guard let number = Int(fd),
                  let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                  target.hasPrefix(directory + "/") else { continue }
            result[number] = target
        }
        return result
    }

    /// The open flags of a descriptor (/proc/PID/fdinfo/FD "flags", octal).
    static func openFlags(of pid: Int32, fd: Int) -> Int32? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("flags:") {
            return Int32(line.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8)
        }
        return nil
    }
}

extension Stack {
    /// Polls until `name`'s pid file names a live process other than `old`; nil after `timeout`.
    func waitForNewPid(_ name: String, old: Int32, timeout: TimeInterval) async throws -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let pid = pid(name), pid != old, Processes.isAlive(pid) { return pid }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        return nil
    }

    /// Polls `/health` until it answers 200; false after `timeout`.
    func waitUntilHealthy(timeout: TimeInterval) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let health = try? await client.get("/health"), health.status == 200 { return true }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        return false
    }

    /// The size of a file under the stack's directory (0 when missing).
    func fileSize(_ relative: String) -> Int {
        let attributes = try? FileManager.default.attributesOfItem(atPath: variables.appendingPathComponent(relative).path)
        return (attributes?[.size] as? NSNumber)?.intValue ?? 0
    }
}
