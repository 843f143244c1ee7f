import Foundation
import XCTest

/// Several fronts (`BAZAR_FRONTS=3`), each with its own cache, behind one nginx upstream: the
/// primary invalidates every front holding a lease before a write, and waits out one it
/// cannot reach.
final class MultiFrontTests: XCTestCase {
    private static let fronts = ["front", "front-2", "front-3"]

    /// Reads `path` until every front has answered it from its own cache once.
    private func warmEveryFront(_ stack: Stack, _ path: String) async throws {
        var hits = 0
        for _ in 0..<60 where hits < 9 {
            if try await stack.client.get(path).header("X-Cache") == "HIT" { hits += 1 }
        }
        XCTAssertGreaterThanOrEqual(hits, 9, "\(path) is cached (round robin spreads the reads over the fronts)")
    }

    func testEveryFrontServesAnAcknowledgedWriteAtOnce() async throws {
        let stack = try Stack(["BAZAR_FRONTS": "3"])
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        for front in Self.fronts { XCTAssertNotNil(stack.pid(front), "\(front) runs") }
        try await warmEveryFront(stack, "/info/3")
        try await warmEveryFront(stack, "/search/undergraduate%20school")
        for (round, price) in [41.5, 42.5, 43.5].enumerated() {
            let update = try await stack.client.send("PUT", "/update/3", headers: ["Authorization": "Bearer \(Stack.adminToken)"],
                                                     body: Data(#"{"price": \#(price)}"#.utf8))
            XCTAssertEqual(update.status, 200)
            let version = update.json["version"].int
            for _ in 0..<12 {
                let read = try await stack.client.get("/info/3")
                XCTAssertEqual(read.json["price"].double, price, "round \(round): a front served a value older than the write")
                XCTAssertGreaterThanOrEqual(read.json["version"].int ?? 0, version ?? 0)
            }
        }
        let purchase = try await stack.client.send("POST", "/purchase/3")
        XCTAssertEqual(purchase.status, 200)
        let stock = purchase.json["book"]["stock"].int
        for _ in 0..<12 {
            let read = try await stack.client.get("/info/3")
            XCTAssertEqual(read.json["stock"].int, stock, "every front dropped the book before the purchase was answered")
        }
    }

    func testAHungFrontIsWaitedOutWhileTheOthersServe() async throws {
        let stack = try Stack(["BAZAR_FRONTS": "3"])
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        try await warmEveryFront(stack, "/info/4")
        let hung = try XCTUnwrap(stack.pid("front-2"))
        XCTAssertEqual(kill(hung, SIGSTOP), 0)
        defer { kill(hung, SIGCONT) }
        let (status, body) = try stack.internalPost("/catalog-primary/update/4", body: #"{"price": 64.25}"#)
        XCTAssertEqual(status, 200, "the hung front's lease is waited out: \(body)")
        XCTAssertEqual(kill(hung, SIGCONT), 0)
        for _ in 0..<30 {
            let read = try await stack.client.get("/info/4")
            if read.status == 200 {
                XCTAssertEqual(read.json["price"].double, 64.25, "the resumed front served the value from before an acknowledged write")
            }
        }
        try await warmEveryFront(stack, "/info/4")
    }
}
