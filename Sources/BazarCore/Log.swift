import Foundation

/// One-line logging to stderr (spawn-fcgi's launch script sends it to `var/log/NAME.log`).
public enum Log {
    /// Writes `message` with a UTC timestamp.
    public static func info(_ message: String) {
        let stamp = Date().formatted(.iso8601)
        FileHandle.standardError.write(Data("\(stamp) \(message)\n".utf8))
    }
}
