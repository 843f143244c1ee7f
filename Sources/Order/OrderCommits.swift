import Basics
import BazarCore
import Dispatch
import Synchronization

/// Records the orders of concurrent purchases together (`OrderBatches` decides the batches):
/// a batch's leader inserts its orders in one transaction and pushes them to the peer in one
/// call, then answers every purchase in it. No thread of its own: the leader is one of the
/// purchases' request threads, and each waiting purchase is woken alone, once, by a semaphore.
/// A purchase waits for at most two batches, the one running when it joined and its own: two
/// pushes of `Timeouts.peerPush`, which `Timeouts.purchase` counts.
final class OrderCommits: Sendable {
    private let orders: OrderBook
    private let peer: PeerPush
    private let plan = Mutex(OrderBatches<Member>())

    init(orders: OrderBook, peer: PeerPush) {
        self.orders = orders
        self.peer = peer
    }

    /// How many purchases wait for the running batch to finish (`bazar_orders_waiting`).
    var waiting: Int { plan.withLock { $0.waitingCount } }

    /// Records `order` here and pushes it to the peer, with the orders of the purchases made
    /// meanwhile: whether this replica or its peer now holds it.
    func hold(_ order: Order) -> Bool {
        let member = Member(order)
        let batch: [Member]
        if let now = plan.withLock({ $0.join(member, bytes: member.encoded.count) }) {
            batch = now
        } else {
            switch member.awaitRole() {
            case .held(let held): return held
            case .lead(let next): batch = next
            }
        }
        let held = commit(batch)
        if let next = plan.withLock({ $0.finish() }) { next[0].wake(.lead(next)) }
        for other in batch where other !== member { other.wake(.held(held)) }
        return held
    }

    /// Records a batch's orders and pushes them: whether this replica or its peer holds them.
    private func commit(_ batch: [Member]) -> Bool {
        var recorded = true
        do {
            try orders.record(batch.map(\.order))
        } catch {
            recorded = false
            Log.error("store error recording orders", [("orders", "\(batch.count)"), ("first", "\(batch[0].order.number)"),
                                                       ("error", "\(error)")])
        }
        return peer.push(batch.map(\.encoded), first: batch[0].order.number) || recorded
    }

    /// What a waiting purchase is woken for.
    private enum Role {
        /// Lead this batch (the purchase's own order is its first).
        case lead([Member])
        /// The batch holding the purchase's order finished: whether the order is held.
        case held(Bool)
    }

    /// One purchase in the group: its order, encoded once for the push. `role` is written
    /// once, before `woken` is signalled, and read after the wait: the semaphore orders the two.
    private final class Member: @unchecked Sendable {
        let order: Order
        let encoded: [UInt8]
        private let woken = DispatchSemaphore(value: 0)
        private var role: Role?

        init(_ order: Order) {
            self.order = order
            encoded = order.internalJSON.encoded()
        }

        func wake(_ role: Role) {
            self.role = role
            woken.signal()
        }

        func awaitRole() -> Role {
            woken.wait()
            return role!
        }
    }
}
