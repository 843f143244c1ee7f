import BazarCore
import InternalHTTP

/// Where a caller sends the catalog primary's requests, as a value: to the replica that last
/// answered as the primary (`/catalog-2`), or to nginx's `/catalog-primary`, which tries
/// catalog-1 and then catalog-2, while none is known. Addressing the replica learned keeps a
/// hung catalog-1 (the backup after a failover, or a replaced primary) from holding the
/// primary's requests: nginx tries catalog-1 first and would wait on it (docs/failover.md).
///
/// Safety never rests on the route: a replica that is not the primary refuses, having done
/// nothing, and a deposed primary can acknowledge nothing (its epoch is fenced).
public struct PrimaryRouting: Sendable, Equatable {
    /// The catalog replicas nginx's internal listener routes to by name (`/catalog-1/`, ...).
    public static let replicas: Set<String> = ["catalog-1", "catalog-2"]
    /// nginx's location for "whichever replica is the primary".
    public static let anyReplica = "/catalog-primary"
    /// The header a replica's `not_primary` refusal names its term's primary in (a hint).
    public static let hintHeader = "X-Bazar-Primary"

    /// The replica last seen answering as the primary, if any.
    public private(set) var learned: String?

    /// A route that knows `learned` (nil: none yet).
    public init(learned: String? = nil) {
        self.learned = Self.replicas.contains(learned ?? "") ? learned : nil
    }

    /// The path prefix the next call goes to.
    public var prefix: String { learned.map { "/\($0)" } ?? Self.anyReplica }

    /// Learns from one call's `result`, sent to `sentTo` (a prefix), and answers where to send
    /// the same call once more, or nil. A replica's own answer (`X-Upstream`) names the primary.
    /// A refusal that surely applied nothing (`X-Bazar-Not-Sent`: not the primary, or a dead
    /// replica's socket) is sent once more, to the primary it hints at or else to any replica,
    /// when that is somewhere else. A call to a learned replica that got no answer forgets it
    /// (it may be hung or gone) and is not sent again: its outcome is the caller's to settle.
    public mutating func note(_ result: Result<InternalResponse, InternalCallError>, sentTo: String) -> String? {
        switch result {
        case .success(let answer) where answer.header(WriteIdentity.notSentHeader) == "true":
            self = PrimaryRouting(learned: answer.header(Self.hintHeader))
            return prefix == sentTo ? nil : prefix
        case .success(let answer) where answer.header("X-Upstream") != nil:
            self = PrimaryRouting(learned: answer.header("X-Upstream"))
            return nil
        case .success, .failure(.timeout), .failure(.noAnswer):
            if sentTo != Self.anyReplica { learned = nil }
            return nil
        case .failure(.unreachable), .failure(.malformed):
            return nil
        }
    }
}
