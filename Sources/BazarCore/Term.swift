/// Which catalog replica is the primary in which epoch (term). Epochs only grow: epoch 1 is the
/// deployment's first (its primary named by `--role primary`), and every later one is granted by
/// the witnesses (the order replicas) to one replica. Every message of the catalog protocol
/// carries its sender's term (its wire form and the messages are in `Wire`: `TermMessage`,
/// `StaleEpoch`, `EpochRequest`); a receiver that knows a higher epoch refuses it, and one that
/// learns a higher epoch from a message adopts it (`TermFence`). See `docs/failover.md`.
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

    /// No term known yet (epoch 0).
    public static let none = Term(epoch: 0, primary: "")

    public var description: String { "epoch \(epoch) (primary \(primary))" }
}

/// What a receiver does with a message of term `incoming` when it knows `known` (a value).
public enum TermFence: Equatable, Sendable {
    /// The same term: go on.
    case accept
    /// A newer epoch: store it durably, then go on.
    case adopt(Term)
    /// An older epoch (or another primary claiming the same one): refuse it, naming `known`.
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
