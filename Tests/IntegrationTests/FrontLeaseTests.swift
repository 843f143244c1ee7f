import Foundation
import XCTest

/// The front's read lease: writes go on while the front is down or hung, and the front never
/// serves a value older than a write acknowledged meanwhile.
final class FrontLeaseTests: XCTestCase {
    private func price(_ stack: Stack, _ id: Int) async throws -> Double? {
        try await stack.client.get("/info/\(id)").json["price"].double
    }

    func testWritesGoOnWhileTheFrontIsDown() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        _ = try await stack.client.get("/info/1")
        XCTAssertEqual(try stack.ctl("stop", "front").0, 0)
        // A front that is down holds nothing: the write waits at most a lease. A write that waited
        // for the front to come back would never be answered 200 (the call's deadline, and curl's
        // 20 s, bound the hang).
        let (status, body) = try stack.internalPost("/catalog-primary/update/1", body: #"{"price": 77.5}"#)
        XCTAssertEqual(status, 200, body)
        XCTAssertEqual(try stack.ctl("start", "front").0, 0)
        _ = try await stack.waitUntilLevel()
        let seen = try await price(stack, 1)
        XCTAssertEqual(seen, 77.5)
    }

    func testAHungFrontIsWaitedOutAndNeverServesTheOldValue() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        try await stack.warm("/info/2")
        let front = try XCTUnwrap(stack.pid("front"))
        XCTAssertEqual(kill(front, SIGSTOP), 0)
        defer { kill(front, SIGCONT) }
        let (status, body) = try stack.internalPost("/catalog-primary/update/2", body: #"{"price": 66.25}"#)
        XCTAssertEqual(status, 200, "the hung front's lease is waited out: \(body)")
        XCTAssertEqual(kill(front, SIGCONT), 0)
        for _ in 0..<20 {
            let seen = try await price(stack, 2)
            XCTAssertEqual(seen, 66.25, "the resumed front served the value from before an acknowledged write")
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        try await stack.warm("/info/2")   // a fresh lease lets the front cache again
    }
}
