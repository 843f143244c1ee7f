import Basics
import BazarCore
import Dispatch

/// The writes waiting for replication on the primary (`Replicator.waitReplicated`), each on its
/// own semaphore, and which of them may go on: a write is woken once what it waits for covers
/// its sequence number, not at every push, commit or acknowledgement (a broadcast woke every
/// waiting write for each, only to have it queue for the lock and sleep again). The owner
/// guards this value with its lock.
struct WaitingWrites {
    /// One waiting write.
    final class Waiter: Sendable {
        /// The write's sequence number.
        let seq: Int64
        private let woken = DispatchSemaphore(value: 0)

        init(seq: Int64) { self.seq = seq }

        /// Lets the waiting write go on (to look again at what covers it).
        func wake() { woken.signal() }

        /// Sleeps until woken (true) or until `deadline`, monotonic nanoseconds (false).
        func wait(until deadline: Int64) -> Bool {
            let left = deadline - Monotonic.now()
            return left > 0 && woken.wait(timeout: .now() + .nanoseconds(Int(left))) == .success
        }
    }

    private var waiters: [ObjectIdentifier: Waiter] = [:]

    /// A new waiter for write `seq`, counted as waiting until `remove`d.
    mutating func add(_ seq: Int64) -> Waiter {
        let waiter = Waiter(seq: seq)
        waiters[ObjectIdentifier(waiter)] = waiter
        return waiter
    }

    /// No longer waiting (woken, or past its deadline).
    mutating func remove(_ waiter: Waiter) {
        waiters[ObjectIdentifier(waiter)] = nil
    }

    /// The waiters that may go on now, taken out of the waiting (each to be woken once): while
    /// the backup is in sync, those it `acked`; while it is demoted, those the order replicas
    /// `witnessed`, and, when no request thread is `recording` more, all of them, since one
    /// of them must record.
    mutating func ready(inSync: Bool, acked: Int64, witnessed: Int64, recording: Bool) -> [Waiter] {
        let through = inSync ? acked : recording ? witnessed : Int64.max
        let ready = waiters.values.filter { $0.seq <= through }
        for waiter in ready { waiters[ObjectIdentifier(waiter)] = nil }
        return ready
    }
}
