import Basics
import BazarCore
import HTTPMessages
import Store
import Synchronization
import Wire

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

    /// A `WitnessRecord` from the primary: stored if newer; a demotion is refused (409) while a
    /// stand-in lease is in force, and carries what the primary had committed, which may from
    /// then on be acknowledged without the backup (kept as by `acknowledge`, in the same
    /// transaction). Answers a `WitnessRecordAnswer` (the version held).
    func record(_ body: [UInt8]) throws(APIError) -> Response {
        guard let record = WitnessRecord(body: body) else {
            throw .badRequest("A witness record is {\"epoch\": n, \"primary\": name, \"version\": n, \"in_sync\": bool}.")
        }
        return try store.withLock { store throws(APIError) in
            if let refusal = try Self.fence(record.term, in: store) { return refusal }
            if !record.inSync && Monotonic.now() < standInUntil.load(ordering: .acquiring) {
                throw Self.standingIn
            }
            let (recorded, held) = try APIError.unavailableOnFailure("the witness record was not stored") {
                (try store.setWitness(version: record.version, inSync: record.inSync, acknowledged: record.acknowledged), try store.witness())
            }
            return .json(200, WitnessRecordAnswer(recorded: recorded, version: held.version).json)
        }
    }

    /// An `AcknowledgedThrough` from the primary, before it acknowledges writes through it
    /// without the backup: kept as the largest so far; refused (409), like a demotion, while a
    /// stand-in lease is in force. Answers the largest held, in the same form.
    func acknowledge(_ body: [UInt8]) throws(APIError) -> Response {
        guard let record = AcknowledgedThrough(body: body), let term = record.term else {
            throw .badRequest("An acknowledgement record is {\"epoch\": n, \"primary\": name, \"through\": n}.")
        }
        return try store.withLock { store throws(APIError) in
            if let refusal = try Self.fence(term, in: store) { return refusal }
            if Monotonic.now() < standInUntil.load(ordering: .acquiring) { throw Self.standingIn }
            let held = try APIError.unavailableOnFailure("the acknowledgement was not stored") { try store.acknowledge(through: record.through) }
            return .json(200, AcknowledgedThrough(held).json)
        }
    }

    /// What a restarting primary asks (`WitnessState`): the newest witness record, the sequence
    /// number acknowledged through without the backup, and the term held.
    func state() throws(APIError) -> Response {
        let (record, acknowledged, term) = try store.withLock { store throws(APIError) in
            try APIError.unavailableOnFailure("the witness record could not be read") {
                (try store.witness(), try store.acknowledgedThrough(), try store.term())
            }
        }
        return .json(200, WitnessState(version: record.version, inSync: record.inSync, acknowledged: acknowledged, term: term).json)
    }

    /// A backup's request for the next epoch (`EpochRequest`): granted, stored before the answer,
    /// when `WitnessGrant` says so; from then on every message of an older epoch is refused.
    /// Answers an `EpochAnswer`, or `StaleEpoch` to a request of an older epoch.
    func grant(_ body: [UInt8]) throws(APIError) -> Response {
        guard let request = EpochRequest(body: body) else {
            throw .badRequest("An epoch request is {\"candidate\": name, \"epoch\": n, \"primary\": name}.")
        }
        return try store.withLock { store throws(APIError) in
            let (held, record) = try APIError.unavailableOnFailure("the term could not be read") { (try store.term(), try store.witness()) }
            switch WitnessGrant(held: held, recordInSync: record.inSync, request: request).verdict {
            case .grant(let term):
                _ = try APIError.unavailableOnFailure("the epoch granted could not be stored") { try store.adopt(term) }
                Log.warn("granted the next catalog epoch", [("epoch", "\(term.epoch)"), ("primary", term.primary)])
                return .json(200, EpochAnswer.grant(term).json)
            case .repeatGrant(let term):
                return .json(200, EpochAnswer.grant(term).json)
            case .stale(let newer):
                return StaleEpoch(known: newer).response
            case .refuse(let reason):
                return .json(200, EpochAnswer.refusal(reason, holding: held).json)
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
            return StaleEpoch(known: known).response
        }
    }

    /// The backup's question, with its term (`TermMessage`), answered by a `StandInAnswer`: a
    /// stand-in lease when the newest record says the backup is in sync, else none.
    func standIn(_ body: [UInt8]) throws(APIError) -> Response {
        guard let term = TermMessage(body: body)?.term else {
            throw .badRequest("A stand-in request is {\"epoch\": n, \"primary\": name}.")
        }
        return try store.withLock { store throws(APIError) in
            if let refusal = try Self.fence(term, in: store) { return refusal }
            let record = try APIError.unavailableOnFailure("the witness record could not be read") { try store.witness() }
            guard record.inSync else { return .json(200, StandInAnswer(leaseMilliseconds: nil).json) }
            standInUntil.max(Monotonic.now() + Self.standInLease.nanoseconds, ordering: .releasing)
            return .json(200, StandInAnswer(leaseMilliseconds: Self.standInLease.nanoseconds / 1_000_000).json)
        }
    }
}
