import Basics
import BazarCore
import HTTPMessages

extension Term {
    /// The members every message of the catalog protocol carries: `"epoch"` and `"primary"`.
    public var members: [(String, JSON)] { [("epoch", .int(epoch)), ("primary", .string(primary))] }

    /// Reads the `"epoch"` and `"primary"` members of a message; nil when either is missing or of
    /// the wrong kind, or the epoch is negative.
    public init?(members json: JSON) {
        guard let epoch = json["epoch"]?.int64Value, epoch >= 0, let primary = json["primary"]?.stringValue else { return nil }
        self.init(epoch: epoch, primary: primary)
    }
}

/// A message that is a term and nothing else, `{"epoch", "primary"}`: a backup's request for a
/// stand-in lease (`POST /<order>/stand-in`, its term), a witness's answer about its term
/// (part of `WitnessState`), the primary's request that the backup take over
/// (`POST /<backup>/take-over`, the term it leaves) and the answers of a take-over and of a
/// switchover (the term won).
public struct TermMessage: Sendable, Equatable {
    /// The term.
    public var term: Term

    /// A message of `term`.
    public init(_ term: Term) { self.term = term }

    /// `{"epoch", "primary"}`.
    public var json: JSON { .object(term.members) }

    /// The message as sent.
    public var encoded: [UInt8] { json.encoded() }

    /// Reads one; nil when it is no JSON object with a well-formed term.
    public init?(body: [UInt8]) {
        guard let json = try? JSON.parse(body), let term = Term(members: json) else { return nil }
        self.init(term)
    }
}

/// The refusal of a message from an older epoch by a receiver that knows a newer one: 409
/// `{"error": {"code": "stale_epoch", "message"}, "epoch", "primary"}` naming the newer term.
public struct StaleEpoch: Sendable, Equatable {
    /// The error code of the refusal.
    public static let code = "stale_epoch"

    /// The newer term the receiver knows.
    public var known: Term

    /// A refusal naming `known`.
    public init(known: Term) { self.known = known }

    /// The refusal as answered.
    public var response: Response {
        let error = JSON.object([("code", .string(Self.code)),
                                 ("message", .string("Epoch \(known.epoch) is current, with \(known.primary) primary; this message is from an older one."))])
        return .json(409, .object([("error", error)] + known.members))
    }

    /// Reads an answer; nil when it is no `stale_epoch` refusal with a well-formed term.
    public init?(status: Int, body: [UInt8]) {
        guard status == 409, let json = try? JSON.parse(body), json["error"]?["code"]?.stringValue == Self.code,
              let known = Term(members: json) else { return nil }
        self.init(known: known)
    }
}

/// A backup's request to the witnesses for the epoch after the one it leaves
/// (`POST /<order>/epoch`): `{"candidate", "epoch", "primary"}` (the term left).
public struct EpochRequest: WireMessage, Sendable, Equatable {
    /// The replica asking to become the primary.
    public var candidate: String
    /// The term it leaves (its newest): it asks for `leaving.epoch + 1`.
    public var leaving: Term

    /// A request from its parts.
    public init(candidate: String, leaving: Term) {
        self.candidate = candidate
        self.leaving = leaving
    }

    /// The term asked for.
    public var asked: Term { Term(epoch: leaving.epoch + 1, primary: candidate) }

    /// `{"candidate", "epoch", "primary"}`.
    public var json: JSON { .object([("candidate", .string(candidate))] + leaving.members) }

    /// Reads a request; nil when a member is missing, empty or of the wrong kind.
    public init?(json: JSON) {
        guard let candidate = json["candidate"]?.stringValue, !candidate.isEmpty, let leaving = Term(members: json) else { return nil }
        self.init(candidate: candidate, leaving: leaving)
    }
}

/// A witness's answer to an `EpochRequest` that names no older epoch (that one gets `StaleEpoch`):
/// `{"granted": true, "epoch", "primary"}` naming the term granted, or `{"granted": false,
/// "reason", "epoch", "primary"}` with the term the witness holds.
public struct EpochAnswer: WireMessage, Sendable, Equatable {
    /// Whether the epoch was granted.
    public var granted: Bool
    /// Why not (nil when granted).
    public var reason: String?
    /// The term granted, or the one the witness holds.
    public var term: Term

    /// A grant of `term`.
    public static func grant(_ term: Term) -> EpochAnswer { EpochAnswer(granted: true, reason: nil, term: term) }

    /// A refusal for `reason`, by a witness holding `term`.
    public static func refusal(_ reason: String, holding term: Term) -> EpochAnswer {
        EpochAnswer(granted: false, reason: reason, term: term)
    }

    /// An answer from its parts.
    public init(granted: Bool, reason: String?, term: Term) {
        self.granted = granted
        self.reason = granted ? nil : reason
        self.term = term
    }

    /// The answer's JSON.
    public var json: JSON {
        .object([("granted", .bool(granted))] + (reason.map { [("reason", JSON.string($0))] } ?? []) + term.members)
    }

    /// Reads an answer; nil when `granted` or the term is missing or malformed, or a refusal has no reason.
    public init?(json: JSON) {
        guard let granted = json["granted"]?.boolValue, let term = Term(members: json) else { return nil }
        let reason = json["reason"]?.stringValue
        guard granted || reason != nil else { return nil }
        self.init(granted: granted, reason: reason, term: term)
    }
}
