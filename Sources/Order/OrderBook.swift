import BazarCore
import Store
import Synchronization

/// An order replica's orders: its store, plus the highest order number up to which it holds
/// every order (`heldThrough`, reported as the replica's `applied` in `/health`).
final class OrderBook: Sendable {
    private struct State {
        var store: OrderStore
        var heldThrough: Int64
        var held: Set<Int64>
    }

    private let state: Mutex<State>

    init(store: sending OrderStore) throws {
        let numbers = try store.numbers()
        var held = Set(numbers)
        var heldThrough: Int64 = 0
        while held.contains(heldThrough + 1) { heldThrough += 1 }
        held = held.filter { $0 > heldThrough }
        state = Mutex(State(store: store, heldThrough: heldThrough, held: held))
    }

    /// Every order number up to this one is held.
    var heldThrough: Int64 { state.withLock { $0.heldThrough } }

    /// How many orders are held (numbers are dense: those up to `heldThrough` and those above).
    var count: Int64 { state.withLock { $0.heldThrough + Int64($0.held.count) } }

    /// Records orders (known numbers are ignored) and moves `heldThrough` over any gap they close.
    func record(_ orders: [Order]) throws {
        try state.withLock { state in
            try state.store.insert(orders)
            for order in orders where order.number > state.heldThrough { state.held.insert(order.number) }
            while state.held.remove(state.heldThrough + 1) != nil { state.heldThrough += 1 }
        }
    }

    /// The orders numbered above `number`, oldest first, at most `limit`.
    func orders(after number: Int64, limit: Int) throws -> [Order] {
        try state.withLock { try $0.store.orders(after: number, limit: limit) }
    }

    /// One order by number.
    func order(_ number: Int64) throws -> Order? {
        try state.withLock { try $0.store.order(number: number) }
    }
}
