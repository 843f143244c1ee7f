import Basics
import BazarCore
import HTTPMessages
import Store
import Synchronization

/// This order replica's part in proving the catalog backup current while the primary is down.
///
/// The primary acknowledges a write without the backup only after both order replicas have
/// durably recorded that the backup is out of sync (a *demotion*); when the backup is in sync
/// again it records that too. A backup standing in for a dead primary asks an order replica:
/// if its newest record says in sync, no write was acknowledged without the backup since, so
/// the backup holds every acknowledged write. The answer comes with a stand-in lease, during
/// which this replica refuses demotions: the primary cannot go on alone while the backup serves.
///
/// While the backup is demoted, the primary also records here, before it answers, the write
/// sequence number it acknowledges through (`acknowledge`). A restarting primary reads all of
/// it (`state`) to learn what was acknowledged without the backup (see `docs/recovery.md`).
///
/// It also holds the catalog's term (epoch and primary) and grants the next epoch to a backup
/// whose primary is gone (`WitnessGrant`). Every message carries its sender's term: one of an
/// older epoch is refused (`stale_epoch`, naming the newer), and a newer epoch is adopted
/// (stored, with the newest record then counting the backup out of sync) before the message is
/// acted on. See `docs/failover.md`.
final class Witness: Sendable {
    /// How long a stand-in lease lasts (counted here from the moment it is answered).
    static let standInLease: Duration = .milliseconds(1_000)

    private static let standingIn = APIError(status: 409, code: "standing_in", message: "The catalog backup is standing in for the primary.")

    private let store: Mutex<OrderStore>
    private let standInUntil = Atomic<Int64>(0)

    init(store: sending OrderStore) {
        self.store = Mutex(store)
    }

    /// `{"version", "in_sync", "acknowledged"?}` from the primary: stored if newer; a demotion
    /// is refused (409) while a stand-in lease is in force, and carries what the primary had
    /// committed, which may from then on be acknowledged without the backup (kept as by
    /// `acknowledge`, in the same transaction). Answers `{"recorded", "version"}` (the version held).
    func record(_ body: [UInt8]) throws(APIError) -> Response {
        guard let json = try? JSON.parse(body), let term = Term(json: json), let version = json["version"]?.int64Value,
              let inSync = json["in_sync"]?.boolValue else {
            throw .badRequest("A witness record is {\"epoch\": n, \"primary\": name, \"version\": n, \"in_sync\": bool}.")
        }
        let acknowledged = inSync ? nil : json["acknowledged"]?.int64Value
        return try store.withLock { store throws(APIError) in
            if let refusal = try Self.fence(term, in: store) { return refusal }
            if !inSync && Monotonic.now() < standInUntil.load(ordering: .acquiring) {
                throw Self.standingIn
            }
            let (recorded, held) = try APIError.unavailableOnFailure("the witness record was not stored") {
                (try store.setWitness(version: version, inSync: inSync, acknowledged: acknowledged), try store.witness())
            }
            return .json(200, .object([("recorded", .bool(recorded)), ("version", .int(held.version))]))
        }
    }

    /// `{"through": n}` from the primary, before it acknowledges writes through `n` without the
    /// backup: kept as the largest so far; refused (409), like a demotion, while a stand-in lease
    /// is in force. Answers `{"through"}` (the largest held).
    func acknowledge(_ body: [UInt8]) throws(APIError) -> Response {
        guard let json = try? JSON.parse(body), let term = Term(json: json), let through = json["through"]?.int64Value, through >= 0 else {
            throw .badRequest("An acknowledgement record is {\"epoch\": n, \"primary\": name, \"through\": n}.")
        }
        return try store.withLock { store throws(APIError) in
            if let refusal = try Self.fence(term, in: store) { return refusal }
            if Monotonic.now() < standInUntil.load(ordering: .acquiring) { throw Self.standingIn }
            let held = try APIError.unavailableOnFailure("the acknowledgement was not stored") { try store.acknowledge(through: through) }
            return .json(200, .object([("through", .int(held))]))
        }
    }

    /// What a restarting primary asks: `{"version", "in_sync", "acknowledged", "epoch", "primary"}`:
    /// the newest witness record, the sequence number acknowledged through without the backup,
    /// and the term held.
    func state() throws(APIError) -> Response {
        let (record, acknowledged, term) = try store.withLock { store throws(APIError) in
            try APIError.unavailableOnFailure("the witness record could not be read") {
                (try store.witness(), try store.acknowledgedThrough(), try store.term())
            }
        }
        return .json(200, .object([("version", .int(record.version)), ("in_sync", .bool(record.inSync)),
                                   ("acknowledged", .int(acknowledged))] + term.members))
    }

    /// A backup's request for the next epoch (`EpochRequest`): granted, stored before the answer,
    /// when `WitnessGrant` says so; from then on every message of an older epoch is refused.
    func grant(_ body: [UInt8]) throws(APIError) -> Response {
        guard let request = (try? JSON.parse(body)).flatMap(EpochRequest.init(json:)) else {
            throw .badRequest("An epoch request is {\"candidate\": name, \"epoch\": n, \"primary\": name}.")
        }
        return try store.withLock { store throws(APIError) in
            let (held, record) = try APIError.unavailableOnFailure("the term could not be read") { (try store.term(), try store.witness()) }
            switch WitnessGrant(held: held, recordInSync: record.inSync, request: request).verdict {
            case .grant(let term):
                _ = try APIError.unavailableOnFailure("the epoch granted could not be stored") { try store.adopt(term) }
                Log.warn("granted the next catalog epoch", [("epoch", "\(term.epoch)"), ("primary", term.primary)])
                return EpochRequest.granted(term)
            case .repeatGrant(let term):
                return EpochRequest.granted(term)
            case .stale(let newer):
                return newer.refusal
            case .refuse(let reason):
                return EpochRequest.refused(reason, holding: held)
            }
        }
    }

    /// Judges a message's term against the one held (`TermFence`): the refusal to answer for an
    /// older epoch, or nil to go on (a newer epoch adopted first).
    private static func fence(_ incoming: Term, in store: OrderStore) throws(APIError) -> Response? {
        let held = try APIError.unavailableOnFailure("the term could not be read") { try store.term() }
        switch TermFence(known: held, incoming: incoming) {
        case .accept:
            return nil
        case .adopt(let newer):
            _ = try APIError.unavailableOnFailure("the newer term could not be stored") { try store.adopt(newer) }
            return nil
        case .refuse(let known):
            return known.refusal
        }
    }

    /// The backup's question, with its term: `{"in_sync": true, "lease_ms"}` (a stand-in lease) when the newest
    /// record says the backup is in sync, else `{"in_sync": false}`.
    func standIn(_ body: [UInt8]) throws(APIError) -> Response {
        guard let term = (try? JSON.parse(body)).flatMap(Term.init(json:)) else {
            throw .badRequest("A stand-in request is {\"epoch\": n, \"primary\": name}.")
        }
        return try store.withLock { store throws(APIError) in
            if let refusal = try Self.fence(term, in: store) { return refusal }
            let record = try APIError.unavailableOnFailure("the witness record could not be read") { try store.witness() }
            guard record.inSync else { return .json(200, .object([("in_sync", .bool(false))])) }
            standInUntil.max(Monotonic.now() + Self.standInLease.nanoseconds, ordering: .releasing)
            return .json(200, .object([("in_sync", .bool(true)),
                                       ("lease_ms", .int(Self.standInLease.nanoseconds / 1_000_000))]))
        }
    }
}
