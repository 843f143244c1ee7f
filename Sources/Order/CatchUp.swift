import Basics
import BazarCore
import Foundation
import InternalHTTP
import Synchronization
import TierCalls
import Wire

/// Keeps an order replica level with every order ever taken: at start, and then every second,
/// it fetches from the catalog primary's record of takes whatever it is missing (orders its peer
/// could not push to it while it was down). Until the first full fetch it is `catching_up`.
/// A read that needs every order so far reads through (`readThrough`): from the primary, or,
/// when the primary cannot be reached, from the peer, which recorded every order it answered.
final class CatchUp: Sendable {
    private let orders: OrderBook
    private let primary: PrimaryCalls
    private let peer: String
    private let level = Atomic<Bool>(false)

    init(orders: OrderBook, primary: PrimaryCalls, peer: String) {
        self.orders = orders
        self.primary = primary
        self.peer = peer
    }

    /// Whether the first catch-up has finished.
    var isLevel: Bool { level.load(ordering: .acquiring) }

    /// Records that a full fetch from the primary has finished.
    func markLevel() {
        level.store(true, ordering: .releasing)
    }

    /// Starts the catch-up thread.
    func start() {
        let thread = Thread { [self] in
            while true {
                let complete = fetchFromPrimary()
                if complete { markLevel() }
                Thread.sleep(forTimeInterval: complete ? 1.0 : 0.2)
            }
        }
        thread.name = "catch-up"
        thread.start()
    }

    /// Fetches every order taken so far that this replica lacks, from the primary or else from
    /// the peer; `unavailable` when neither answers (the replica cannot prove what it lacks).
    func readThrough() throws(APIError) {
        guard fetchFromPrimary() || fetch({ try? primary.client.send("GET", "/\(peer)/held?\($0)", timeout: Timeouts.read) }) else {
            throw .unavailable("Neither the catalog primary nor the peer order replica answered; the orders may be incomplete.")
        }
    }

    /// Fetches from the primary's record of takes (`fetch`).
    private func fetchFromPrimary() -> Bool {
        fetch { try? primary.send("GET", "/takes?\($0)", timeout: Timeouts.read) }
    }

    /// Fetches pages of orders after `heldThrough` with `get` (given a page's query) until a
    /// short page; false when it did not answer.
    private func fetch(_ get: (String) -> InternalResponse?) -> Bool {
        while true {
            let page = Page(after: orders.heldThrough, limit: Order.takesPageSize)
            guard let response = get(page.query),
                  response.status == 200,
                  let missing = OrderList(body: response.body)?.orders else { return false }
            do {
                try orders.record(missing)
            } catch {
                Log.error("store error during catch-up", [("error", "\(error)")])
                return false
            }
            if missing.count < page.limit { return true }
        }
    }
}
