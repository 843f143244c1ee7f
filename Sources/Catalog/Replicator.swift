import BazarCore
import Foundation

/// The primary's side of catalog replication.
///
/// One thread pushes to the backup every book changed since the backup's last acknowledged
/// sequence number (a state-based diff, so a batch carries many writes under load, and the same
/// push is the backup's catch-up after a restart). A write is answered only once the backup has
/// acknowledged it, while the backup is *in sync*. When the backup stops answering, the primary
/// waits out the backup's read lease before it stops waiting for it, so the backup can never
/// serve a read older than an acknowledged write. The backup is back in sync once an
/// acknowledgement covers every committed write.
final class Replicator: @unchecked Sendable {
    /// How long a backup may serve reads after a push that found it in sync.
    static let lease: Duration = .milliseconds(500)
    /// How often an idle primary pushes (renewing the backup's lease).
    static let heartbeat: Duration = .milliseconds(100)

    private let client: InternalClient
    private let backupPath: String
    private let memory: CatalogMemory
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var committed: Int64
    private var acked: Int64 = 0
    private var inSync = false
    private var lastAck = ContinuousClock.now

    init(client: InternalClient, backup: String, memory: CatalogMemory) {
        self.client = client
        self.backupPath = "/\(backup)/replicate"
        self.memory = memory
        self.committed = memory.applied
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
            condition.broadcast()
        }
    }

    /// Blocks until the backup acknowledged `seq`, or until it is out of sync.
    func waitReplicated(_ seq: Int64) {
        condition.withLock {
            while inSync && acked < seq { condition.wait() }
        }
    }

    /// Whether the backup acknowledges writes before they are answered.
    var backupInSync: Bool { condition.withLock { inSync } }

    private func pushOnce() {
        let (after, sync) = condition.withLock { () -> (Int64, Bool) in
            if committed <= acked { _ = condition.wait(until: Date().addingTimeInterval(Self.heartbeat.seconds)) }
            return (acked, inSync)
        }
        let (books, upTo) = memory.changes(after: after)
        let body = JSON.object([("after", .int(after)), ("up_to", .int(upTo)), ("in_sync", .bool(sync)),
                                ("books", .array(books.map(\.json)))]).encoded()
        let response = try? client.send("POST", backupPath, body: body, timeout: .seconds(1))
        let applied = response.flatMap { response in
            [200, 409].contains(response.status) ? (try? JSON.parse(response.body))?["applied"]?.int64Value : nil
        }
        condition.withLock {
            if let applied {
                acked = applied
                if response?.status == 200 { lastAck = .now }
                if !inSync && response?.status == 200 && acked >= committed {
                    inSync = true
                    Log.info("backup in sync at \(acked)")
                }
            } else if inSync && ContinuousClock.now - lastAck > Self.lease {
                inSync = false
                Log.info("backup out of sync at \(acked): answering writes without it")
            }
            condition.broadcast()
        }
        if applied == nil { Thread.sleep(forTimeInterval: 0.05) }
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
