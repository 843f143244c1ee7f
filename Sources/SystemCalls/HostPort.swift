/// A TCP address as the tiers' flags write it, `HOST:PORT`: a port (1–65535) after the last
/// `:`, a host before it, and no `/` anywhere. Anything else names a unix socket.
public struct HostPort: Sendable, Equatable {
    /// A name or an IP address.
    public let host: String
    public let port: UInt16

    /// Parses `HOST:PORT`; nil for anything else (a unix socket path).
    public init?(_ text: String) {
        guard !text.contains("/"), let colon = text.lastIndex(of: ":"), colon != text.startIndex,
              let port = UInt16(text[text.index(after: colon)...]), port > 0 else { return nil }
        host = String(text[..<colon])
        self.port = port
    }
}
