import BazarCore
import XCTest

/// A route table declared once answers what the three declarations it replaced did: the route,
/// 404 for no such path, 405 naming the path's methods, the metrics' names, a trailing slash.
final class RouteTableTests: XCTestCase {
    private let table = RouteTable<String>([
        .init("orders", 1, ["GET", "HEAD"], "list"),
        .init("orders", 2, ["GET", "HEAD"], "one"),
        .init("purchase", 2, ["POST", "PUT"], "buy"),
    ])

    func testARequestFindsItsRouteByNameLengthAndMethod() throws {
        XCTAssertEqual(try table.route("GET", ["orders"]).endpoint, "list")
        XCTAssertEqual(try table.route("HEAD", ["orders", "7"]).endpoint, "one")
        XCTAssertEqual(try table.route("PUT", ["purchase", "7"]).endpoint, "buy")
    }

    func testNoSuchPathIs404AndAMethodThePathDoesNotAllowIs405() {
        XCTAssertThrowsError(try table.route("GET", ["orders", "7", "8"])) { XCTAssertEqual(($0 as? APIError)?.status, 404) }
        XCTAssertThrowsError(try table.route("GET", ["nothing"])) { XCTAssertEqual(($0 as? APIError)?.status, 404) }
        XCTAssertThrowsError(try table.route("GET", ["purchase", "7"])) { error in
            XCTAssertEqual((error as? APIError)?.status, 405)
            XCTAssertEqual((error as? APIError)?.response().header("Allow"), "POST, PUT")
        }
    }

    func testAnExactRouteAnswersAMethodThePathDoesNotAllowAs404() throws {
        XCTAssertEqual(try table.exactRoute("HEAD", ["orders", "7"]).endpoint, "one")
        for (method, path): (String, [Substring]) in [("GET", ["purchase", "7"]), ("GET", ["orders", "7", "8"]), ("GET", ["nothing"])] {
            XCTAssertThrowsError(try table.exactRoute(method, path)) { error in
                XCTAssertEqual(error as? APIError, .notFound("No such route."))
            }
        }
    }

    func testEachNameOnceForTheMetricsAndATrailingSlashOnlyAfterAWholeRoute() {
        XCTAssertEqual(table.names, ["orders", "purchase"])
        XCTAssertEqual(table.withoutTrailingSlash(["orders", ""]), ["orders"])
        XCTAssertEqual(table.withoutTrailingSlash(["purchase", "7", ""]), ["purchase", "7"])
        XCTAssertEqual(table.withoutTrailingSlash(["purchase", ""]), ["purchase", ""], "an empty id stays (a 400)")
    }
}
