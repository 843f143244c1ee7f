import Foundation
import XCTest

/// The catalog primary's wait for the backup's acknowledgement has a deadline inside its
/// callers' timeouts: a write that cannot be acknowledged (the backup down, and the demotion
/// not recordable because an order replica is down too) is answered `outcome_unknown`, and
/// the primary's threads are not held by writes whose callers gave up.
final class AcknowledgementWaitTests: XCTestCase {
    func testWritesThatCannotBeAcknowledgedDoNotHoldThePrimarysThreads() async throws {
        let stack = try Stack(["BAZAR_THREADS": "8"])
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        XCTAssertEqual(try stack.ctl("stop", "order-2").0, 0)
        XCTAssertEqual(try stack.ctl("stop", "catalog-2").0, 0)
        // More writes than the primary has threads: each, and its caller's settle, waits for an
        // acknowledgement that cannot come.
        let client = stack.client
        let statuses = await withTaskGroup(of: Int.self) { group in
            for index in 0..<12 {
                group.addTask { (try? await client.update(3, #"{"price": \#(10 + index)}"#))?.status ?? 0 }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        XCTAssertTrue(statuses.allSatisfy { [503, 504].contains($0) }, "nothing acknowledged without the backup: \(statuses)")
        // Once the callers have given up, the primary answers again, while the backup is still down.
        var answered = false
        for _ in 0..<20 where !answered {
            answered = (try? stack.internalGet("/catalog-1/health"))?.contains("\"primary\"") == true
            if !answered { try await Task.sleep(nanoseconds: 500_000_000) }
        }
        XCTAssertTrue(answered, "the primary's threads are still held by writes whose callers gave up")
        // nginx may count the primary failed for a moment (max_fails): poll, for up to 60 s.
        var read = try await stack.client.get("/info/3", headers: ["Cache-Control": "no-cache"])
        for _ in 0..<600 where read.status != 200 {
            try await Task.sleep(nanoseconds: 100_000_000)
            read = try await stack.client.get("/info/3", headers: ["Cache-Control": "no-cache"])
        }
        XCTAssertEqual(read.status, 200, "the primary serves reads while the backup is down")
        XCTAssertEqual(try stack.ctl("start", "catalog-2").0, 0)
        XCTAssertEqual(try stack.ctl("start", "order-2").0, 0)
        _ = try await stack.waitUntilLevel()
    }
}
