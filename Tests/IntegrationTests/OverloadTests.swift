import Foundation
import XCTest

/// API.md's overload promise: when more requests arrive than the stack can serve, the excess is
/// refused quickly (429 or 503 within 2 s), and cache hits keep being served. Each test owns a
/// stack, since it hangs parts of it.
final class OverloadTests: XCTestCase {
    /// With both order replicas hung (SIGSTOP) and 300 buyers at it, a cached `/info` is still
    /// answered within 1 s, again and again: purchases wait on the front's writes socket, with
    /// threads of their own, and beyond the 256 writes nginx lets in flight the excess is
    /// refused at once.
    func testCacheHitsAreServedWhileOrderReplicasHang() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let hung = try ["order-1", "order-2"].map { try XCTUnwrap(stack.pid($0)) }
        try await hangWhileProbing(stack, hung, workers: 300) { client in
            try? await client.send("POST", "/purchase/2")
        }
    }

    /// With the catalog backup hung, cache misses wait on it (until nginx tries the primary)
    /// and those beyond the front's permits are refused at once (429), while a cached `/info`
    /// is still answered within 1 s. (With the primary hung too, the front's read lease runs
    /// out and it serves no hits: that is the price of never serving an old value.)
    func testCacheHitsAreServedWhileTheCatalogBackupHangs() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let hung = [try XCTUnwrap(stack.pid("catalog-2"))]
        try await hangWhileProbing(stack, hung, workers: 40) { client in
            try? await client.get("/search/hung-\(UUID().uuidString)")
        }
    }

    /// 1,500 connections of cache misses (wrk, 6 s, each request a new search topic) while a
    /// probe reads a cached `/info`: at least 95 % of the probe's reads succeed, and every answer,
    /// the probe's and the flood's, is a 200 or a refusal (429, 503) within 2 s.
    func testAFloodOfMissesIsRefusedFastWhileHitsAreServed() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let probe = stack.client
        _ = try await probe.get("/info/1")
        let script = stack.variables.appendingPathComponent("flood.lua")
        let lua = try ["bench/lua/misses.lua", "bench/lua/report.lua"].map {
            try String(contentsOf: Stack.repository.appendingPathComponent($0), encoding: .utf8)
        }
        try lua.joined(separator: "\n").write(to: script, atomically: true, encoding: .utf8)
        let flood = Task.detached {
            try stack.run("/usr/bin/env", ["wrk", "-t2", "-c1500", "-d6s", "--timeout", "3s", "-s", script.path, probe.base + "/"])
        }
        try await Task.sleep(nanoseconds: 1_000_000_000)
        var answers: [(status: Int, seconds: Double)] = []
        let deadline = Date().addingTimeInterval(4)
        while Date() < deadline {
            let started = Date()
            let status = (try? await probe.get("/info/1"))?.status ?? 0
            answers.append((status, Date().timeIntervalSince(started)))
        }
        let (exit, output) = try await flood.value
        XCTAssertEqual(exit, 0, output)
        let line = try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix("BENCH_RESULT ") }, output)
        let result = JSONValue(try JSONSerialization.jsonObject(with: Data(line.dropFirst(13).utf8)))
        let statuses = result["statuses"]
        let served = answers.filter { $0.status == 200 }.count
        print("flood: \(statuses), max \(result["max_us"].int ?? -1) µs, errors \(result["errors"]); "
              + "probe: \(served) of \(answers.count) served, slowest \(answers.map(\.seconds).max() ?? 0) s")
        XCTAssertGreaterThanOrEqual(answers.count, 10)
        XCTAssertGreaterThanOrEqual(Double(served), 0.95 * Double(answers.count), "the probe's reads were served")
        for answer in answers {
            XCTAssertTrue([200, 429, 503].contains(answer.status), "probe answered \(answer.status)")
            XCTAssertLessThan(answer.seconds, 2, "probe answered \(answer.status)")
        }
        XCTAssertTrue(statuses.keys.isSubset(of: ["200", "429", "503"]), "flood answers: \(statuses)")
        XCTAssertGreaterThan(statuses["200"].int ?? 0, 0)
        XCTAssertEqual(result["errors"], .object(["connect": .number(0), "read": .number(0), "write": .number(0),
                                                  "status": result["errors"]["status"], "timeout": .number(0)]))
        XCTAssertLessThan(result["max_us"].int ?? .max, 2_000_000, "every flood request was answered within 2 s")
    }

    /// Warms `/info/1`, hangs `pids` (SIGSTOP) while `workers` loops run `request` for 4 s, and
    /// meanwhile reads `/info/1` eight times: each must be a HIT within 1 s. Requests refused
    /// with 429 come back within 2 s.
    private func hangWhileProbing(_ stack: Stack, _ pids: [Int32], workers: Int,
                                  _ request: @escaping @Sendable (HTTPClient) async -> HTTPAnswer?) async throws {
        let probe = stack.client
        _ = try await probe.get("/info/1")
        let load = HTTPClient(base: probe.base, maximumConnections: workers + 10)
        for pid in pids { kill(pid, SIGSTOP) }
        defer { for pid in pids { kill(pid, SIGCONT) } }
        let slowRefusals = Counter(), refusals = Counter()
        let traffic = Task {
            await load.load(workers: workers, seconds: 4) { _ in
                let started = Date()
                guard let answer = await request(load), answer.status == 429 else { return }
                await refusals.add()
                if Date().timeIntervalSince(started) >= 2 { await slowRefusals.add() }
                try? await Task.sleep(nanoseconds: 100_000_000)
            }
        }
        try await Task.sleep(nanoseconds: 500_000_000)
        for _ in 0..<8 {
            let started = Date()
            let hit = try await probe.get("/info/1")
            XCTAssertEqual(hit.status, 200)
            XCTAssertEqual(hit.header("X-Cache"), "HIT")
            XCTAssertLessThan(Date().timeIntervalSince(started), 1, "a cache hit waited")
            try await Task.sleep(nanoseconds: 300_000_000)
        }
        for pid in pids { kill(pid, SIGCONT) }
        await traffic.value
        let refused = await refusals.value, slow = await slowRefusals.value
        print("hung \(pids): \(refused) requests refused with 429")
        XCTAssertGreaterThan(refused, 0, "the excess was refused")
        XCTAssertEqual(slow, 0, "refusals came within 2 s")
    }
}
