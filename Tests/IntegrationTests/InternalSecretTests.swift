import Foundation
import XCTest

/// nginx's internal listener serves only callers with the deployment's internal secret (across
/// hosts, anyone on the tiers' network can reach it), and the admin token is not that secret.
final class InternalSecretTests: XCTestCase {
    func testInternalCallsWithoutTheSecretAreRefusedAndChangeNothing() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let socket = stack.variables.appendingPathComponent("run/internal.sock").path
        let secret = try stack.internalSecret()
        XCTAssertGreaterThanOrEqual(secret.count, 32)
        let wrongSecrets: [[String]] = [[], ["-H", "X-Bazar-Secret: wrong"], ["-H", "X-Bazar-Secret: \(secret)x"],
                                         ["-H", "X-Bazar-Secret: \(Stack.adminToken)"],
                                         ["-H", "Authorization: Bearer \(Stack.adminToken)"]]
        for headers in wrongSecrets {
            let (_, output) = try stack.run("/usr/bin/curl", ["-s", "--max-time", "10", "--unix-socket", socket, "-w", "\n%{http_code}",
                                                              "-X", "POST", "-d", #"{"price": 1.5}"#] + headers +
                                                             ["http://bazar/catalog-primary/update/1"])
            XCTAssertEqual(output.split(separator: "\n").last, "401", "\(headers): \(output)")
            XCTAssertTrue(output.contains(#""code":"unauthorized""#), output)
        }
        let book = try await stack.client.get("/info/1").json
        XCTAssertNotEqual(book["price"].double, 1.5, "no refused call changed anything")
        XCTAssertEqual(book["version"].int, 0)
        XCTAssertEqual(try stack.internalPost("/catalog-primary/update/1", body: #"{"price": 1.5}"#).0, 200,
                       "with the secret the same call is served")
    }
}
