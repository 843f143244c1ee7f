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
        guard let record = (try? JSON.parse(body)).flatMap(WitnessRecord.init(json:)) else {
            throw .badRequest("A witness record is {\"version\": n, \"in_sync\": bool}.")
        }
        return try store.withLock { store throws(APIError) in
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
        guard let record = (try? JSON.parse(body)).flatMap(AcknowledgedThrough.init(json:)) else {
            throw .badRequest("An acknowledgement record is {\"through\": n}.")
        }
        let held = try store.withLock { store throws(APIError) in
            if Monotonic.now() < standInUntil.load(ordering: .acquiring) { throw Self.standingIn }
            return try APIError.unavailableOnFailure("the acknowledgement was not stored") { try store.acknowledge(through: record.through) }
        }
        return .json(200, AcknowledgedThrough(held).json)
    }

    /// What a restarting primary asks (`WitnessState`): the newest witness record and the
    /// sequence number acknowledged through without the backup.
    func state() throws(APIError) -> Response {
        let (record, acknowledged) = try store.withLock { store throws(APIError) in
            try APIError.unavailableOnFailure("the witness record could not be read") {
                (try store.witness(), try store.acknowledgedThrough())
            }
        }
        return .json(200, WitnessState(version: record.version, inSync: record.inSync, acknowledged: acknowledged).json)
    }

    /// The backup's question (`StandInAnswer`): a stand-in lease when the newest record says
    /// the backup is in sync, else none.
    func standIn() throws(APIError) -> Response {
        try store.withLock { store throws(APIError) in
            let record = try APIError.unavailableOnFailure("the witness record could not be read") { try store.witness() }
            guard record.inSync else { return .json(200, StandInAnswer(leaseMilliseconds: nil).json) }
            standInUntil.max(Monotonic.now() + Self.standInLease.nanoseconds, ordering: .releasing)
            return .json(200, StandInAnswer(leaseMilliseconds: Self.standInLease.nanoseconds / 1_000_000).json)
        }
    }
}
