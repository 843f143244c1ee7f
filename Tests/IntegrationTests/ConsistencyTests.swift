import Foundation
import XCTest

/// A miss that fetched an old copy must not put it in the cache after a write's invalidation
/// passed. The front's test hook holds every fill for 400 ms, so the write always lands in
/// between: without versioned fills the next read is a HIT of the stale copy.
final class StaleFillTests: StackTestCase {
    override class var stackEnvironment: [String: String] { ["BAZAR_FRONT_ARGS": "--fill-delay-ms 400"] }

    func testAFillOlderThanAnInvalidationIsRefused() async throws {
        try await assertAnOldFillIsRefused(book: 3, price: 41.5, readHeaders: [:], cacheOfTheSlowRead: "MISS")
    }

    /// A read that skips the cache (`Cache-Control: no-cache`) fills it under the same rule.
    func testABypassFillOlderThanAnInvalidationIsRefused() async throws {
        try await assertAnOldFillIsRefused(book: 4, price: 42.5, readHeaders: ["Cache-Control": "no-cache"],
                                           cacheOfTheSlowRead: "BYPASS")
    }

    /// A slow search while a book is added to its topic: the old page is answered but never
    /// cached (the addition announced the topic, and the fill is older than it).
    func testASearchFillOlderThanAnAdditionToItsTopicIsRefused() async throws {
        let client = try client
        _ = try await stack.waitUntilLevel()
        let topic = "stale-\(UUID().uuidString.prefix(8).lowercased())"
        let existing = try await client.addBooks(#"{"title":"Old","topic":"\#(topic)","price":1,"stock":1}"#)
        let first = try XCTUnwrap(existing.json["id"].int)
        let slowRead = Task { try await client.get("/search/\(topic)") }
        try await Task.sleep(nanoseconds: 150_000_000)
        let added = try await client.addBooks(#"{"title":"New","topic":"\#(topic)","price":1,"stock":1}"#)
        XCTAssertEqual(added.status, 201)
        let old = try await slowRead.value
        XCTAssertEqual(old.json["items"].array.compactMap { $0["id"].int }, [first], "the slow read fetched before the addition")
        for _ in 0..<2 {
            let after = try await client.get("/search/\(topic)")
            XCTAssertEqual(after.json["items"].array.compactMap { $0["id"].int }, [first, added.json["id"].int ?? 0],
                           "X-Cache: \(after.header("X-Cache") ?? "-")")
        }
    }

    /// A slow read of `book` (held between its fetch and its fill by `--fill-delay-ms`) while an
    /// update sets `price`: the old copy it fetched is answered but never cached.
    private func assertAnOldFillIsRefused(book: Int, price: Double, readHeaders: [String: String],
                                          cacheOfTheSlowRead: String) async throws {
        let client = try client
        _ = try await stack.waitUntilLevel()
        let slowRead = Task { try await client.get("/info/\(book)", headers: readHeaders) }
        try await Task.sleep(nanoseconds: 150_000_000)
        let updated = try await client.update(book, #"{"price": \#(price)}"#)
        XCTAssertEqual(updated.status, 200)
        let old = try await slowRead.value
        XCTAssertEqual(old.header("X-Cache"), cacheOfTheSlowRead)
        XCTAssertNotEqual(old.json["price"], .number(price), "the slow read fetched before the update")
        for _ in 0..<2 {
            let after = try await client.get("/info/\(book)")
            XCTAssertEqual(after.json["price"], .number(price), "X-Cache: \(after.header("X-Cache") ?? "-")")
            XCTAssertGreaterThanOrEqual(after.json["version"].int ?? 0, updated.json["version"].int ?? .max)
        }
    }
}

/// Promises 1 and 2 under concurrency, and idempotent purchases across order replicas.
final class ConcurrencyTests: StackTestCase {
    func testReadsNeverMissAnAcknowledgedWriteInAConcurrentHistory() async throws {
        let client = try client
        let books = [1, 2, 3]
        for id in books { _ = try await client.update(id, #"{"stock": 1000000}"#) }
        let history = History()
        let step: @Sendable (Int) async -> Void = { worker in
            let book = books.randomElement()!
            let invoked = History.now()
            switch worker {
            case 0:
                guard let answer = try? await client.send("POST", "/purchase/\(book)"), answer.status == 200,
                      let version = answer.json["book"]["version"].int else { return await history.fail("purchase") }
                await history.record(.init(kind: .write, book: book, invoked: invoked, completed: History.now(), version: version))
            case 1:
                let price = String(format: "%.1f", Double.random(in: 1...99))
                guard let answer = try? await client.update(book, #"{"price": \#(price)}"#), answer.status == 200,
                      let version = answer.json["version"].int else { return await history.fail("update") }
                await history.record(.init(kind: .write, book: book, invoked: invoked, completed: History.now(), version: version))
            default:
                guard let answer = try? await client.get("/info/\(book)"), answer.status == 200,
                      let version = answer.json["version"].int else { return await history.fail("read") }
                await history.record(.init(kind: .read, book: book, invoked: invoked, completed: History.now(), version: version))
            }
        }
        // Load in rounds until the history holds 2,000 operations, 50 of them writes, however
        // slow the machine (the 60 s bound only stops a hang).
        let deadline = Date().addingTimeInterval(60)
        var operations: [History.Operation] = []
        repeat {
            await client.load(workers: 8, seconds: 2, step)
            operations = await history.operations
        } while (operations.count < 2_000 || operations.filter({ $0.kind == .write }).count < 50) && Date() < deadline
        let violations = await history.violations()
        let failures = await history.failures
        print("history: \(operations.count) operations (\(operations.filter { $0.kind == .write }.count) writes), \(violations.count) violations, \(failures.count) failed calls")
        XCTAssertGreaterThanOrEqual(operations.count, 2_000, "fewer operations than the check needs in 60 s")
        XCTAssertGreaterThanOrEqual(operations.filter { $0.kind == .write }.count, 50, "fewer writes than the check needs in 60 s")
        XCTAssertEqual(failures, [])
        XCTAssertEqual(violations, [])
    }

    /// 250 purchases at once of a book with 100 copies: exactly 100 bought, every other one
    /// told out of stock, both order replicas listing the 100. The takes of purchases made at
    /// once travel to the primary in batches (`/catalog-primary/take-batch`), each answered alone.
    func testConcurrentPurchasesThroughBothOrderReplicasNeverOversell() async throws {
        let client = try client
        _ = try await client.update(6, #"{"stock": 100}"#)
        let batchesBefore = try await takeBatches()
        let before = Set(try await client.get("/orders?limit=1000").json["orders"].array.compactMap { $0["number"].int })
        let answers = try await withThrowingTaskGroup(of: HTTPAnswer.self) { group in
            for _ in 0..<250 { group.addTask { try await client.send("POST", "/purchase/6") } }
            return try await group.reduce(into: [HTTPAnswer]()) { $0.append($1) }
        }
        let succeeded = answers.filter { $0.status == 200 }
        XCTAssertEqual(succeeded.count, 100)
        // The rest find no copy. None is refused: under this burst the tiers let kept connections
        // go, and a take or purchase nginx sent on one as it closed is tried once more (FastRetry).
        XCTAssertEqual(answers.filter { $0.status == 409 }.count, 150, "\(answers.map(\.status).sorted())")
        XCTAssertEqual(Set(succeeded.compactMap { $0.header("X-Upstream") }), ["order-1", "order-2"])
        let book = try await client.get("/info/6")
        XCTAssertEqual(book.json["stock"], .number(0))
        let bought = Set(succeeded.compactMap { $0.json["order"]["number"].int })
        XCTAssertEqual(bought.count, 100)
        _ = try await stack.waitUntilLevel()
        var listed: [String: Set<Int>] = [:]
        for _ in 0..<4 {
            let list = try await client.get("/orders?limit=1000")
            listed[list.header("X-Upstream") ?? ""] = Set(list.json["orders"].array.compactMap { $0["number"].int }).subtracting(before)
        }
        XCTAssertEqual(listed["order-1"], bought)
        XCTAssertEqual(listed["order-2"], bought)
        let batches = try await takeBatches()
        XCTAssertGreaterThan(batches, batchesBefore, "250 purchases at once and no take travelled in a batch")
    }

    /// How many batches of takes the catalog replicas answered (`bazar_requests_total`, route `take-batch`).
    private func takeBatches() async throws -> Double {
        let report = try await MetricsScrape.scrape(try client)
        return report.families["bazar_requests"]?.samples.filter { $0.name == "bazar_requests_total" && $0.labels["route"] == "take-batch" }.reduce(0) { $0 + $1.value } ?? 0
    }

    func testARetryOnTheOtherOrderReplicaIsRecognised() async throws {
        let client = try client
        let key = "retry-\(UUID().uuidString)"
        let stock = try await client.get("/info/4").json["stock"].int ?? 0
        var answers: [HTTPAnswer] = []
        for _ in 0..<4 { answers.append(try await client.send("POST", "/purchase/4", headers: ["Idempotency-Key": key])) }
        XCTAssertEqual(Set(answers.map(\.status)), [200])
        XCTAssertEqual(Set(answers.compactMap { $0.header("X-Upstream") }), ["order-1", "order-2"], "round-robin reached both")
        XCTAssertEqual(Set(answers.map { $0.json["order"] }).count, 1)
        XCTAssertEqual(answers.filter { $0.header("Idempotent-Replayed") == "true" }.count, 3)
        let after = try await client.get("/info/4").json["stock"].int
        XCTAssertEqual(after, stock - 1)
    }
}

extension JSONValue: Hashable {
    func hash(into hasher: inout Hasher) { hasher.combine(description) }
}
