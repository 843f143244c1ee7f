import BazarCore
import Dispatch
import Foundation
import InternalHTTP

/// The primary's side of catalog replication.
///
/// One thread pushes to the backup every book changed since the backup's last acknowledged
/// sequence number (a state-based diff: under load one push carries many writes, and the same
/// pushes are the backup's catch-up after a restart). A push carries at most `pushBudget`
/// bytes of books (nginx and the backup take bodies up to 64 KiB): when more changed, the
/// pushes before the last are pages that leave the backup's `applied` where it was, and
/// only the last one, holding every book changed since, moves it up to the primary's. While the backup is *in sync*, a write is
/// answered only once the backup has acknowledged it, and pushes grant the backup a read lease
/// that ends `lease` after the push was sent by this host's clock (the backup counts it from
/// the receipt the push echoes, made before the sending: see `Backup`; no clocks are compared
/// across hosts). When a push fails, pushes stop granting leases;
/// once the last lease granted has run out, the primary demotes the backup: only when every
/// order replica has recorded that (`WitnessRecords`) does it stop waiting for the backup,
/// which by then serves no reads and cannot stand in. The backup is back in sync once an
/// acknowledgement covers every committed write, and the order replicas are told so. A primary
/// starts counting the backup in sync: it acknowledges nothing without it before a demotion
/// (unless no order replica keeps records: then it starts without the backup, as after one).
final class Replicator: @unchecked Sendable {
    /// How long a backup may serve reads after a push that found it in sync was sent.
    static let lease: Duration = .milliseconds(500)
    /// How often an idle primary pushes (renewing the backup's lease).
    static let heartbeat: Duration = .milliseconds(100)
    /// How long one push may take; at least `lease`, so a push that times out granted nothing
    /// still in force.
    static let pushTimeout: Duration = .seconds(1)
    /// The most bytes of books one push carries.
    static let pushBudget = 60_000

    private let client: InternalClient
    private let backupPath: String
    private let memory: CatalogMemory
    private let witnesses: WitnessRecords
    /// Guards the state below; only the push thread waits on it.
    private let condition = NSCondition()
    private var committed: Int64
    private var acked: Int64 = 0
    private var inSync: Bool
    private var suspect = false
    private var lastLeaseEnd: Int64 = 0
    /// The writes waiting for the backup's acknowledgement, each woken alone once it holds
    /// (or once the backup is out of sync), not at every push.
    private var waiting: [(seq: Int64, wake: DispatchSemaphore)] = []
    // Used by the push thread only: the receipt of the backup's last answer.
    private var receipt: Int64?
    // Used by the push thread only: whether the order replicas were told the backup is in sync,
    // and while the pages of one catch-up go out, the `applied` they started from and the
    // version through which the backup has taken them.
    private var promoted = false
    private var pages: (from: Int64, through: Int64)?

    init(client: InternalClient, backup: String, memory: CatalogMemory, witnesses: WitnessRecords) {
        self.client = client
        self.backupPath = "/\(backup)/replicate"
        self.memory = memory
        self.witnesses = witnesses
        self.committed = memory.applied
        inSync = !witnesses.isEmpty
    }

    /// Starts the push loop.
    func start() {
        let thread = Thread { [self] in while true { pushOnce() } }
        thread.name = "replicator"
        thread.start()
    }

    /// Records a committed write and wakes the push loop.
    func committed(_ seq: Int64) {
        condition.withLock {
            committed = max(committed, seq)
            condition.signal()
        }
    }

    /// Blocks until the backup acknowledged `seq`, or until it is out of sync.
    func waitReplicated(_ seq: Int64) {
        let wake = condition.withLock { () -> DispatchSemaphore? in
            guard inSync && acked < seq else { return nil }
            let wake = DispatchSemaphore(value: 0)
            waiting.append((seq, wake))
            return wake
        }
        wake?.wait()
    }

    /// Wakes the writes that need not wait any longer: those acknowledged, or all of them once
    /// the backup is out of sync. Called with `condition` held.
    private func releaseWaiting() {
        var still: [(seq: Int64, wake: DispatchSemaphore)] = []
        for waiter in waiting {
            if inSync && acked < waiter.seq { still.append(waiter) } else { waiter.wake.signal() }
        }
        waiting = still
    }

    private func pushOnce() {
        let (after, granting) = condition.withLock { () -> (Int64, Bool) in
            if committed <= acked { _ = condition.wait(until: Date().addingTimeInterval(Self.heartbeat.seconds)) }
            guard inSync && !suspect, receipt != nil else { return (acked, false) }
            lastLeaseEnd = Monotonic.now() + Self.lease.nanoseconds
            return (acked, true)
        }
        let changes = memory.changes(after: pages?.from == after ? pages?.through ?? after : after, budget: Self.pushBudget)
        let upTo = changes.complete ? changes.applied : after
        var members: [(String, [UInt8])] = [("after", JSON.int(after).encoded()), ("up_to", JSON.int(upTo).encoded()),
                                            ("books", EncodedJSON.array(changes.encoded))]
        if granting, let receipt {
            let lease = JSON.object([("ms", .int(Self.lease.nanoseconds / 1_000_000)), ("echo", .int(receipt))])
            members.append(("lease", lease.encoded()))
        }
        let response = try? client.send("POST", backupPath, body: EncodedJSON.object(members), timeout: Self.pushTimeout)
        let answer = response.flatMap { [200, 409].contains($0.status) ? try? JSON.parse($0.body) : nil }
        let applied = answer?["applied"]?.int64Value
        receipt = answer?["receipt"]?.int64Value
        // A page the backup took without moving on: the next push starts after it.
        pages = response?.status == 200 && applied == after && !changes.complete ? (after, changes.through) : nil
        let transition = condition.withLock { () -> Transition? in
            if let applied, let response {
                acked = applied
                releaseWaiting()
                guard response.status == 200 else { return nil }
                suspect = false
                if acked >= committed && (!inSync || !promoted) {
                    inSync = true
                    return .promote
                }
                return nil
            }
            suspect = true
            return inSync && Monotonic.now() >= lastLeaseEnd ? .demote : nil
        }
        switch transition {
        case .promote?:
            promoted = witnesses.promote()
            if promoted { Log.info("backup in sync", [("acked", "\(acked)")]) }
        case .demote?:
            promoted = false
            if witnesses.demote() {
                condition.withLock {
                    inSync = false
                    releaseWaiting()
                }
                Log.warn("backup out of sync, recorded by the order replicas: answering writes without it", [("acked", "\(acked)")])
            }
        case nil:
            break
        }
        if applied == nil { Thread.sleep(forTimeInterval: 0.02) }
    }

    private enum Transition {
        case promote, demote
    }
}
