import BazarCore
import Foundation
import InternalHTTP
import Synchronization

/// Keeps an order replica level with every order ever taken: at start, and then every second,
/// it fetches from the catalog primary's record of takes whatever it is missing (orders its peer
/// could not push to it while it was down). Until the first full fetch it is `catching_up`.
final class CatchUp: Sendable {
    private let orders: OrderBook
    private let client: InternalClient
    private let level = Atomic<Bool>(false)

    init(orders: OrderBook, client: InternalClient) {
        self.orders = orders
        self.client = client
    }

    /// Whether the first catch-up has finished.
    var isLevel: Bool { level.load(ordering: .acquiring) }

    /// Starts the catch-up thread.
    func start() {
        let thread = Thread { [self] in
            while true {
                let complete = fetchMissing()
                if complete { level.store(true, ordering: .releasing) }
                Thread.sleep(forTimeInterval: complete ? 1.0 : 0.2)
            }
        }
        thread.name = "catch-up"
        thread.start()
    }

    /// Fetches pages of orders after `heldThrough` until a short page; false when the catalog did not answer.
    private func fetchMissing() -> Bool {
        while true {
            guard let response = try? client.send("GET", "/catalog-primary/takes?after=\(orders.heldThrough)", timeout: .seconds(2)),
                  response.status == 200,
                  let page = (try? JSON.parse(response.body))?["orders"]?.arrayValue else { return false }
            let missing = page.compactMap(Order.init(json:))
            do {
                try orders.record(missing)
            } catch {
                Log.info("store error during catch-up: \(error)")
                return false
            }
            if missing.count < Order.takesPageSize { return true }
        }
    }
}
