import Basics
import BazarCore

/// A record the catalog primary stores on each order replica (`POST /<order>/witness`), with
/// its term: whether the backup is in sync, numbered by `version` (a replica keeps the newest),
/// and with a demotion, the sequence number committed then, which may be acknowledged without
/// the backup.
public struct WitnessRecord: WireMessage, Sendable, Equatable {
    /// The term of the primary that records it.
    public var term: Term
    /// The record's number; only a newer one is stored.
    public var version: Int64
    /// Whether the backup is in sync.
    public var inSync: Bool
    /// With a demotion: what the primary had committed (nil with a promotion).
    public var acknowledged: Int64?

    /// A record from its parts.
    public init(term: Term, version: Int64, inSync: Bool, acknowledged: Int64? = nil) {
        self.term = term
        self.version = version
        self.inSync = inSync
        self.acknowledged = acknowledged
    }

    /// `{"epoch", "primary", "version", "in_sync", "acknowledged"?}`.
    public var json: JSON {
        .object(term.members + [("version", .int(version)), ("in_sync", .bool(inSync))]
                + (acknowledged.map { [("acknowledged", JSON.int($0))] } ?? []))
    }

    /// Reads a record; nil when the term, `version` or `in_sync` is missing or of the wrong
    /// kind. A promotion carries no `acknowledged`, whatever was sent.
    public init?(json: JSON) {
        guard let term = Term(members: json), let version = json["version"]?.int64Value,
              let inSync = json["in_sync"]?.boolValue else { return nil }
        self.init(term: term, version: version, inSync: inSync, acknowledged: inSync ? nil : json["acknowledged"]?.int64Value)
    }
}

/// An order replica's answer to a record: whether it stored it, and the version it holds.
public struct WitnessRecordAnswer: WireMessage, Sendable, Equatable {
    /// Whether the record was stored (it was newer).
    public var recorded: Bool
    /// The version the replica holds now.
    public var version: Int64

    /// An answer from its parts.
    public init(recorded: Bool, version: Int64) {
        self.recorded = recorded
        self.version = version
    }

    /// `{"recorded", "version"}`.
    public var json: JSON { .object([("recorded", .bool(recorded)), ("version", .int(version))]) }

    /// Reads an answer; nil when a field is missing or of the wrong kind.
    public init?(json: JSON) {
        guard let recorded = json["recorded"]?.boolValue, let version = json["version"]?.int64Value else { return nil }
        self.init(recorded: recorded, version: version)
    }
}

/// The sequence number through which writes are acknowledged without the backup, as the primary
/// records it on an order replica (`POST /<order>/acknowledged`, `{"through", "epoch", "primary"}`
/// with its term) and as the replica answers it (`{"through"}`, the largest it holds).
public struct AcknowledgedThrough: WireMessage, Sendable, Equatable {
    /// The sequence number.
    public var through: Int64
    /// The recording primary's term (nil in the replica's answer).
    public var term: Term?

    /// A record of `through` by the primary of `term`, or (nil) the replica's answer.
    public init(_ through: Int64, term: Term? = nil) {
        self.through = through
        self.term = term
    }

    /// `{"through"}`, and the term's members when there is one.
    public var json: JSON { .object([("through", .int(through))] + (term?.members ?? [])) }

    /// Reads one; nil when `through` is missing, of the wrong kind or negative, or a term is malformed.
    public init?(json: JSON) {
        guard let through = json["through"]?.int64Value, through >= 0 else { return nil }
        let term = Term(members: json)
        guard term != nil || (json["epoch"] == nil && json["primary"] == nil) else { return nil }
        self.init(through, term: term)
    }
}

/// What an order replica answers a restarting primary (`GET /<order>/witness`): its newest
/// record, the sequence number acknowledged through without the backup, and the catalog term
/// it holds.
public struct WitnessState: WireMessage, Sendable, Equatable {
    /// The newest record's version (0: none).
    public var version: Int64
    /// Whether the newest record says the backup is in sync.
    public var inSync: Bool
    /// The largest sequence number acknowledged without the backup.
    public var acknowledged: Int64
    /// The catalog term the replica holds (`Term.none` before any).
    public var term: Term

    /// A state from its parts.
    public init(version: Int64, inSync: Bool, acknowledged: Int64, term: Term = .none) {
        self.version = version
        self.inSync = inSync
        self.acknowledged = acknowledged
        self.term = term
    }

    /// `{"version", "in_sync", "acknowledged", "epoch", "primary"}`.
    public var json: JSON {
        .object([("version", .int(version)), ("in_sync", .bool(inSync)), ("acknowledged", .int(acknowledged))] + term.members)
    }

    /// Reads a state; nil when a field is missing or of the wrong kind.
    public init?(json: JSON) {
        guard let version = json["version"]?.int64Value, let inSync = json["in_sync"]?.boolValue,
              let acknowledged = json["acknowledged"]?.int64Value, let term = Term(members: json) else { return nil }
        self.init(version: version, inSync: inSync, acknowledged: acknowledged, term: term)
    }
}

/// An order replica's answer to a backup asking to stand in for a silent primary
/// (`POST /<order>/stand-in`, whose request is the backup's `TermMessage`): a stand-in lease when its newest record says the backup is in
/// sync, none otherwise.
public struct StandInAnswer: WireMessage, Sendable, Equatable {
    /// The lease's length in milliseconds; nil: the backup is not counted in sync.
    public var leaseMilliseconds: Int64?

    /// An answer granting a lease of `leaseMilliseconds`, or refusing one (nil).
    public init(leaseMilliseconds: Int64?) { self.leaseMilliseconds = leaseMilliseconds }

    /// `{"in_sync": true, "lease_ms"}` or `{"in_sync": false}`.
    public var json: JSON {
        guard let leaseMilliseconds else { return .object([("in_sync", .bool(false))]) }
        return .object([("in_sync", .bool(true)), ("lease_ms", .int(leaseMilliseconds))])
    }

    /// Reads an answer; nil when it is malformed (in sync without a lease included).
    public init?(json: JSON) {
        guard let inSync = json["in_sync"]?.boolValue else { return nil }
        guard inSync else { self.init(leaseMilliseconds: nil); return }
        guard let milliseconds = json["lease_ms"]?.int64Value else { return nil }
        self.init(leaseMilliseconds: milliseconds)
    }
}
