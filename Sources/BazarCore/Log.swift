import Foundation

/// One-line logging to stderr (spawn-fcgi's launch script sends it to `var/log/NAME.log`).
public enum Log {
    /// Writes `message` with a UTC timestamp.
    public static func info(_ message: String) {
        let stamp = Date().formatted(.iso8601)
        FileHandle.standardError.write(Data("\(stamp) \(message)\n".utf8))
    }

    /// Like `info`, but at most `perSecond` lines a second under one `key` (a line a client can
    /// cause at will, e.g. a refused token). The lines over that are counted, and the next line
    /// of that key written in a later second is preceded by one "suppressed N similar lines".
    public static func limited(_ key: String, perSecond: Int = 10, _ message: @autoclosure () -> String) {
        let suppressed = limiter.admit(key, perSecond: perSecond)
        guard suppressed >= 0 else { return }
        if suppressed > 0 { info("suppressed \(suppressed) similar lines (\(key))") }
        info(message())
    }

    private static let limiter = RateLimiter()
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
