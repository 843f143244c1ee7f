import Basics
import BazarCore

/// A message one tier sends another as a JSON object, which the receiver reads back from the
/// request's or answer's body with `init?(body:)`.
public protocol WireMessage {
    /// Reads the message; nil when a field is missing or of the wrong kind.
    init?(json: JSON)
}

extension WireMessage {
    /// Reads the message from a body; nil when the body is not JSON or not this message.
    public init?(body: [UInt8]) {
        guard let json = try? JSON.parse(body), let message = Self(json: json) else { return nil }
        self = message
    }
}

/// A book travels as its JSON: in pushes, changes pages and settle answers.
extension Book: WireMessage {}
