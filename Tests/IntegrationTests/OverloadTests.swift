import Foundation
import XCTest

/// API.md's overload promise: when more requests arrive than the stack can serve, the excess is
/// refused (429 or 503) and cache hits keep being served. These tests hold what must be true at
/// any speed: who is served and what the others are told. How fast (refusals within 2 s, hits'
/// p99) is measured by `make bench`'s overload row, not here: a busy machine is slow, not wrong.
/// Each test owns a stack, since it hangs parts of it.
final class OverloadTests: XCTestCase {
    /// With both order replicas hung (SIGSTOP) and 300 buyers at it, a cached `/info` is still
    /// answered from the cache, again and again: purchases wait on the front's writes socket, with
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
    /// and those beyond the front's permits are refused (429), while a cached `/info` is still
    /// answered from the cache. (With the primary hung too, the front's read lease runs
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
    /// probe reads a cached `/info` ten times: at least 9 of its reads succeed, and every answer,
    /// the probe's and the flood's, is a 200 or a refusal (429, 503), none a broken connection.
    /// More connections than the front has threads wait on its main socket, so the front sends
    /// misses to its queue of misses (`bazar_misses_queued_total`), where they wait apart from hits.
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
        for _ in 0..<10 {
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
        XCTAssertGreaterThanOrEqual(served, 9, "the probe's reads were served")
        for answer in answers {
            XCTAssertTrue([200, 429, 503].contains(answer.status), "probe answered \(answer.status)")
        }
        XCTAssertTrue(statuses.keys.isSubset(of: ["200", "429", "503"]), "flood answers: \(statuses)")
        XCTAssertGreaterThan(statuses["200"].int ?? 0, 0)
        for error in ["connect", "read", "write"] {
            XCTAssertEqual(result["errors"][error], .number(0), "flood \(error) errors: \(result["errors"])")
        }
        let queued = try await MetricsScrape.scrape(probe).value("bazar_misses_queued_total", ["replica": "front"])
        XCTAssertGreaterThan(queued, 0, "no miss was sent to the queue of misses")
    }

    /// Warms `/info/1`, hangs `pids` (SIGSTOP) while `workers` loops run `request` for 4 s, and
    /// meanwhile reads `/info/1` eight times: each must be a HIT. Some requests are refused
    /// with 429 (the excess is refused, not queued without end).
    private func hangWhileProbing(_ stack: Stack, _ pids: [Int32], workers: Int,
                                  _ request: @escaping @Sendable (HTTPClient) async -> HTTPAnswer?) async throws {
        let probe = stack.client
        _ = try await probe.get("/info/1")
        let load = HTTPClient(base: probe.base, maximumConnections: workers + 10)
        for pid in pids { kill(pid, SIGSTOP) }
        defer { for pid in pids { kill(pid, SIGCONT) } }
        let refusals = Counter()
        let traffic = Task {
            await load.load(workers: workers, seconds: 4) { _ in
                guard let answer = await request(load), answer.status == 429 else { return }
                await refusals.add()
                try? await Task.sleep(nanoseconds: 100_000_000)
            }
        }
        try await Task.sleep(nanoseconds: 500_000_000)
        for _ in 0..<8 {
            let hit = try await probe.get("/info/1")
            XCTAssertEqual(hit.status, 200)
            XCTAssertEqual(hit.header("X-Cache"), "HIT")
            try await Task.sleep(nanoseconds: 300_000_000)
        }
        for pid in pids { kill(pid, SIGCONT) }
        await traffic.value
        let refused = await refusals.value
        print("hung \(pids): \(refused) requests refused with 429")
        XCTAssertGreaterThan(refused, 0, "the excess was refused")
    }
}
