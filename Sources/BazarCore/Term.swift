import Basics
import HTTPMessages

/// Which catalog replica is the primary in which epoch (term). Epochs only grow: epoch 1 is the
/// deployment's first (its primary named by `--role primary`), and every later one is granted by
/// the witnesses (the order replicas) to one replica (`EpochRequest`). Every message of the
/// catalog protocol carries its sender's term (`members`); a receiver that knows a higher epoch
/// refuses it (`refusal`, 409 `stale_epoch` naming the epoch it knows), and one that learns a
/// higher epoch from a message adopts it (`TermFence`). See `docs/failover.md`.
public struct Term: Sendable, Equatable, CustomStringConvertible {
    /// The epoch: 0 means "none known yet" (a witness that never heard from a primary).
    public var epoch: Int64
    /// The replica that is the primary in `epoch` (empty while `epoch` is 0).
    public var primary: String

    /// A term from its parts.
    public init(epoch: Int64, primary: String) {
        self.epoch = epoch
        self.primary = primary
    }

    /// The code of a refusal from a receiver that knows a higher epoch.
    public static let staleCode = "stale_epoch"

    /// The members a message carries: `"epoch"` and `"primary"`.
    public var members: [(String, JSON)] { [("epoch", .int(epoch)), ("primary", .string(primary))] }

    /// The term as a JSON object of its own.
    public var json: JSON { .object(members) }

    /// Reads the `"epoch"` and `"primary"` members of a message; nil when either is missing or of
    /// the wrong kind, or the epoch is negative.
    public init?(json: JSON) {
        guard let epoch = json["epoch"]?.int64Value, epoch >= 0, let primary = json["primary"]?.stringValue else { return nil }
        self.init(epoch: epoch, primary: primary)
    }

    /// The refusal of a message from an older epoch: 409 `stale_epoch`, with this (the newer) term.
    public var refusal: Response {
        let error = JSON.object([("code", .string(Self.staleCode)),
                                 ("message", .string("Epoch \(epoch) is current, with \(primary) primary; this message is from an older one."))])
        return .json(409, .object([("error", error)] + members))
    }

    /// The newer term a refusal names; nil when the answer is no `stale_epoch` refusal.
    public init?(refusal status: Int, body: [UInt8]) {
        guard status == 409, let json = try? JSON.parse(body), json["error"]?["code"]?.stringValue == Self.staleCode else { return nil }
        self.init(json: json)
    }

    public var description: String { "epoch \(epoch) (primary \(primary))" }
}

/// What a receiver does with a message of term `incoming` when it knows `known` (a value).
public enum TermFence: Equatable, Sendable {
    /// The same term: go on.
    case accept
    /// A newer epoch: store it durably, then go on.
    case adopt(Term)
    /// An older epoch (or another primary claiming the same one): answer `known.refusal`.
    case refuse(Term)

    /// Judges one message.
    public init(known: Term, incoming: Term) {
        if incoming.epoch > known.epoch {
            self = .adopt(incoming)
        } else if incoming.epoch == known.epoch && (incoming.primary == known.primary || known.epoch == 0) {
            self = .accept
        } else {
            self = .refuse(known)
        }
    }
}

/// A backup's request to the witnesses for the epoch after the one it leaves, and the term a
/// witness answers when it grants it. `POST /order-N/epoch`.
public struct EpochRequest: Sendable, Equatable {
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

    /// `{"candidate", "epoch", "primary"}` (the term left).
    public var json: JSON { .object([("candidate", .string(candidate))] + leaving.members) }

    /// Reads a request; nil when a member is missing or of the wrong kind.
    public init?(json: JSON) {
        guard let candidate = json["candidate"]?.stringValue, !candidate.isEmpty, let leaving = Term(json: json) else { return nil }
        self.init(candidate: candidate, leaving: leaving)
    }

    /// A witness's grant: 200 `{"granted": true, "epoch", "primary"}` naming the term granted.
    public static func granted(_ term: Term) -> Response {
        .json(200, .object([("granted", .bool(true))] + term.members))
    }

    /// A witness's refusal that names no newer epoch: 200 `{"granted": false, "reason"}` and the term it holds.
    public static func refused(_ reason: String, holding term: Term) -> Response {
        .json(200, .object([("granted", .bool(false)), ("reason", .string(reason))] + term.members))
    }

    /// The term a witness's answer grants; nil for any other answer.
    public static func grant(status: Int, body: [UInt8]) -> Term? {
        guard status == 200, let json = try? JSON.parse(body), json["granted"]?.boolValue == true else { return nil }
        return Term(json: json)
    }
}
