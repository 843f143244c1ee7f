@testable import Catalog
@testable import Front
@testable import Order
import XCTest

/// Each tier's request metrics count by its route table's names, each once: the series a
/// scrape shows are those the tables declare, and a route added to a table is counted by
/// its name, not as `other`.
final class RouteNamesTests: XCTestCase {
    func testEachTiersMetricsCountByItsTablesNamesEachOnce() {
        for (tier, metrics, table) in [("front", FrontRoutes.routeNames, FrontRoutes.table.routes.map(\.name)),
                                       ("catalog", CatalogRoutes.routeNames, CatalogRoutes.table.routes.map(\.name)),
                                       ("order", OrderRoutes.routeNames, OrderRoutes.table.routes.map(\.name))] {
            XCTAssertEqual(Set(metrics).count, metrics.count, "\(tier): a name counted twice in \(metrics)")
            XCTAssertEqual(Set(metrics.filter { $0 != "invalidate" }), Set(table.map(String.init)), tier)
        }
        // The series each tier's metrics have always had, in their order (failover's routes and
        // the batches of takes added).
        XCTAssertEqual(FrontRoutes.routeNames, ["info", "search", "purchase", "orders", "update", "books", "health", "stats",
                                                "metrics", "invalidate"])
        XCTAssertEqual(CatalogRoutes.routeNames, ["info", "search", "health", "take", "take-batch", "update", "books", "settle", "lease",
                                                  "takes", "replicate", "switchover", "take-over", "state", "changes", "metrics"])
        XCTAssertEqual(OrderRoutes.routeNames, ["purchase", "orders", "held", "replicate", "witness", "acknowledged", "stand-in",
                                                "epoch", "health", "metrics"])
    }
}
