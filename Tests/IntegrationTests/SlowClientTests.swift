import Foundation
import XCTest

/// Abuse on one host, item 1: one local process holding thousands of connections that never
/// finish their headers (each reopened as soon as nginx closes it) must starve neither the
/// tiers' calls to each other nor cache hits. nginx's internal listener is an instance of its
/// own (its own master, workers and connections), the public one holds 16,384 connections per
/// worker and cuts a client off 5 s into its headers (docs/security.md, "Slow clients").
final class SlowClientTests: XCTestCase {
    /// 8,500 slow connections (more than bb28aa1's 2 x 4,096 worker connections, which the
    /// internal listener shared) for 15 s while purchases run. What must hold, at any speed: the
    /// backup never stood in and the primary never dropped its backup (both only happen when an
    /// internal call fails), the front's lease never lapsed (every warmed read is still a hit
    /// afterwards: a lapse empties its cache), and every cache hit asked for on a connection of
    /// its own was answered 200. The flood must have held at least 6,000 connections at once,
    /// or the test proves nothing.
    func testASlowClientFloodStarvesNeitherReplicationNorCacheHits() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let warmed = ["/info/1", "/info/2", "/info/3", "/info/4"]
        for path in warmed { try await stack.warm(path) }

        let script = Stack.repository.appendingPathComponent("Tests/security/slow-headers").path
        let flood = Process()
        flood.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        flood.arguments = ["python3", script, "\(stack.port)", "8500", "15"]
        let output = Pipe()
        flood.standardOutput = output
        try flood.run()
        defer { if flood.isRunning { flood.terminate() } }
        try await Task.sleep(nanoseconds: 3_000_000_000)   // let it open its connections

        var hits: [Int?] = []
        var purchases: [Int: Int] = [:]
        var book = 5
        while flood.isRunning {
            hits.append(await stack.client.sendOnce("GET", "/info/1"))
            let bought = await stack.client.sendOnce("POST", "/purchase/\(book)") ?? 0
            purchases[bought, default: 0] += 1
            book = book == 7 ? 5 : book + 1
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        flood.waitUntilExit()
        let report = JSONValue(try JSONSerialization.jsonObject(with: output.fileHandleForReading.readDataToEndOfFile()))
        print("slow-headers: \(report); hits: \(hits.count); purchases by status: \(purchases)")
        XCTAssertGreaterThanOrEqual(report["peak"].int ?? 0, 6000, "the flood never held 6,000 connections: \(report)")

        XCTAssertGreaterThan(hits.count, 0)
        XCTAssertEqual(hits.filter { $0 != 200 }.count, 0, "cache hits during the flood: \(hits)")
        XCTAssertGreaterThan(purchases[200] ?? 0, 0, "purchases ran during the flood: \(purchases)")
        for path in warmed {
            let answer = try await stack.client.get(path)
            XCTAssertEqual(answer.header("X-Cache"), "HIT", "\(path) after the flood: the front's cache was emptied (its lease lapsed)")
        }
        let log = { (name: String) in
            (try? String(contentsOf: stack.variables.appendingPathComponent("log/\(name).log"), encoding: .utf8)) ?? ""
        }
        XCTAssertFalse(log("catalog-2").contains("standing in"), "catalog-2 stood in for the primary during the flood")
        XCTAssertFalse(log("catalog-1").contains("out of sync"), "catalog-1 answered writes without its backup during the flood")
    }
}
