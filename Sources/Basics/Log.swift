import Foundation
import HTTPMessages
import Synchronization
import SystemCalls

/// One line per event on stderr (spawn-fcgi's launch script sends it to `var/log/NAME.log`), in
/// logfmt: `ts=2026-01-01T00:00:00.000Z level=info msg="…" key=value …`, ending with
/// `request_id=…` when the line is written while serving a request (`RequestTrace`).
///
/// Logging never stops the process: a line that cannot be written (a full disk, a closed pipe,
/// a non-blocking stderr that is full) is dropped and counted, and the next line that can be
/// written is preceded by one "lost log lines" with the count.
public enum Log {
    /// How much an event matters.
    public enum Level: String, Sendable {
        case error, warn, info
    }

    /// Logs `message` with `fields` at `level`.
    public static func write(_ level: Level, _ message: String, _ fields: [(String, String)] = []) {
        let lost = lostLines.exchange(0, ordering: .relaxed)
        if lost > 0 && !emit(line(.warn, "lost log lines", [("lost", "\(lost)"), ("cause", "the log could not be written")])) {
            lostLines.add(lost, ordering: .relaxed)
        }
        if !emit(line(level, message, fields)) { lostLines.add(1, ordering: .relaxed) }
    }

    /// Writes one line to fd 2 with write(2); false when it could not be written whole.
    private static func emit(_ line: String) -> Bool {
        do {
            try Posix.writeAll(2, Array(line.utf8))
            return true
        } catch {
            return false
        }
    }

    /// Logs at `error`: a failure that loses service or data.
    public static func error(_ message: String, _ fields: [(String, String)] = []) { write(.error, message, fields) }

    /// Logs at `warn`: something refused or degraded that the stack survives.
    public static func warn(_ message: String, _ fields: [(String, String)] = []) { write(.warn, message, fields) }

    /// Logs at `info`: a normal event (a start, a change of role).
    public static func info(_ message: String, _ fields: [(String, String)] = []) { write(.info, message, fields) }

    /// Like `write`, but at most `perSecond` lines a second under one `key` (a line a client can
    /// cause at will, e.g. a refused token). The lines over that are counted, and the next line
    /// of that key written in a later second is preceded by one "suppressed similar lines".
    public static func limited(_ key: String, perSecond: Int = 10, _ level: Level, _ message: @autoclosure () -> String,
                               _ fields: @autoclosure () -> [(String, String)] = []) {
        let suppressed = limiter.admit(key, perSecond: perSecond)
        guard suppressed >= 0 else { return }
        if suppressed > 0 { write(level, "suppressed similar lines", [("key", key), ("suppressed", "\(suppressed)")]) }
        write(level, message(), fields())
    }

    /// One logfmt line, newline included.
    static func line(_ level: Level, _ message: String, _ fields: [(String, String)]) -> String {
        var line = "ts=\(Date().formatted(stampStyle)) level=\(level.rawValue) msg=\(value(message))"
        for (key, field) in fields { line += " \(key)=\(value(field))" }
        let requestID = RequestTrace.id
        if !requestID.isEmpty { line += " request_id=\(value(requestID))" }
        return line + "\n"
    }

    /// A logfmt value: bare when it is a plain word, else quoted with `\`, `"` and newlines escaped.
    static func value(_ text: String) -> String {
        let plain = !text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "=") && $0 != UInt8(ascii: "\\") }
        guard !plain else { return text }
        var out = "\""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out + "\""
    }

    private static let limiter = RateLimiter()
    private static let lostLines = Atomic<Int>(0)
    private static let stampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}

/// Per key: how many lines the current second has let through, and how many it dropped.
private final class RateLimiter: @unchecked Sendable {
    private let lock = NSLock()
    private var windows: [String: (second: Int64, written: Int, suppressed: Int)] = [:]

    /// -1 to drop the line; else write it, after reporting the returned number of dropped lines.
    func admit(_ key: String, perSecond: Int) -> Int {
        let second = Monotonic.now() / 1_000_000_000
        lock.lock()
        defer { lock.unlock() }
        var window = windows[key] ?? (second, 0, 0)
        var report = 0
        if window.second != second {
            report = window.suppressed
            window = (second, 0, 0)
        }
        guard window.written < perSecond else {
            window.suppressed += 1
            windows[key] = window
            return -1
        }
        window.written += 1
        windows[key] = window
        return report
    }
}
