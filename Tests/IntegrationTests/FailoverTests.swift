import Foundation
import XCTest

/// API.md promise 7 through real nginx and spawn-fcgi: when the primary is gone for good the
/// backup takes over the writes with no operator action, nothing acknowledged is lost, a former
/// primary rejoins as a backup and never acknowledges again, and order numbers go on.
final class FailoverTests: XCTestCase {
    /// Buys with a key, retrying (same key) until it is answered 200 or 409; records a 200.
    private static func buy(_ stack: Stack, _ book: Int, into acknowledged: Acknowledged) async {
        let (answer, _) = await stack.client.buyRetrying(book)
        if let answer, answer.status == 200 { await acknowledged.order(answer, book: book) }
    }

    /// One write of the load: worker 0 updates a price, the others buy.
    private static func write(_ worker: Int, _ stack: Stack, _ acknowledged: Acknowledged) async {
        guard worker == 0 else { return await buy(stack, Int.random(in: 1...4), into: acknowledged) }
        let book = Int.random(in: 5...6)
        let answer = try? await stack.client.update(book, #"{"price": \#(Double.random(in: 1...99).rounded())}"#)
        if let answer, answer.status == 200 { await acknowledged.update(answer, book: book) }
    }

    /// Polls (at most `seconds`) until a write is acknowledged after `date`; the time it took.
    private func firstWrite(after date: Date, _ stack: Stack, _ acknowledged: Acknowledged, within seconds: Double = 60) async throws -> Double {
        let deadline = date.addingTimeInterval(seconds)
        while Date() < deadline {
            if let first = await acknowledged.first(after: date) { return first.timeIntervalSince(date) }
            if let answer = try? await stack.client.update(7, #"{"stock_delta": 1}"#), answer.status == 200 {
                await acknowledged.update(answer, book: 7)
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        XCTFail("no write was acknowledged within \(seconds) s")
        return seconds
    }

    /// Every acknowledged order is readable as it was answered, and every book is at least at
    /// the version last acknowledged.
    private func checkNothingLost(_ stack: Stack, _ acknowledged: Acknowledged) async throws {
        for (number, book, _) in await acknowledged.orders {
            let read = try await stack.client.get("/orders/\(number)")
            XCTAssertEqual(read.status, 200, "acknowledged order \(number) lost")
            XCTAssertEqual(read.json["book_id"].int, book, "order \(number)")
        }
        for (book, version) in await acknowledged.versions {
            let read = try await stack.client.get("/info/\(book)", headers: ["Cache-Control": "no-cache"])
            XCTAssertGreaterThanOrEqual(read.json["version"].int ?? -1, version, "book \(book): an acknowledged write lost")
        }
    }

    /// Polls `/health` (at most `seconds`) until it names `primary` with every replica up and
    /// level, and the other catalog replica a backup (a former primary reports itself primary
    /// until it has restarted as the backup).
    private func waitForPrimary(_ primary: String, _ stack: Stack, seconds: Double = 60) async throws -> JSONValue {
        let deadline = Date().addingTimeInterval(seconds)
        var last = JSONValue.null
        while Date() < deadline {
            if let health = try? await stack.client.get("/health") {
                last = health.json
                let replicas = health.json["replicas"].array
                let applied = Set(replicas.filter { $0["role"].string != "order" }.map { $0["applied"].int })
                let roles = replicas.filter { $0["role"].string != "order" }.map { [$0["name"].string, $0["role"].string] }
                if health.status == 200, health.json["primary"].string == primary, applied.count == 1,
                   replicas.allSatisfy({ $0["status"].string == "up" }),
                   roles.allSatisfy({ $0[1] == ($0[0] == primary ? "primary" : "backup") }) {
                    return health.json
                }
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        XCTFail("\(primary) never led a level stack: \(last)")
        return last
    }

    /// Hands a new stack to catalog-2 (`bazarctl switchover`) and buys four books there; returns
    /// the purchases acknowledged, once catalog-1 is level again as the backup.
    private func handToCatalog2(_ stack: Stack) async throws -> Acknowledged {
        _ = try await stack.waitUntilLevel()
        XCTAssertEqual(try stack.ctl("switchover").0, 0)
        _ = try await waitForPrimary("catalog-2", stack)
        let acknowledged = Acknowledged()
        for book in 1...4 { await Self.buy(stack, book, into: acknowledged) }
        _ = try await waitForPrimary("catalog-2", stack)
        return acknowledged
    }

    /// (a) and (b): catalog-1 stopped for good under purchases and updates; writes are
    /// acknowledged again with no operator action and nothing acknowledged is lost; started
    /// again, catalog-1 rejoins as a backup of the higher epoch.
    func testWritesResumeWhenThePrimaryIsStoppedForGoodAndItRejoinsAsABackup() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let acknowledged = Acknowledged()
        let load = Task.detached { await stack.client.load(workers: 4, seconds: 8) { await FailoverTests.write($0, stack, acknowledged) } }
        try await Task.sleep(nanoseconds: 2_000_000_000)
        XCTAssertEqual(try stack.ctl("stop", "catalog-1").0, 0)
        let stopped = Date()
        await load.value
        let took = try await firstWrite(after: stopped, stack, acknowledged)
        print("failover: the first write was acknowledged \(String(format: "%.2f", took)) s after bazarctl stop catalog-1")
        try await checkNothingLost(stack, acknowledged)
        let health = try await stack.client.get("/health")
        XCTAssertEqual(health.json["primary"].string, "catalog-2", "\(health.json)")
        XCTAssertEqual(health.json["epoch"].int, 2, "\(health.json)")

        XCTAssertEqual(try stack.ctl("start", "catalog-1").0, 0)
        let level = try await waitForPrimary("catalog-2", stack)
        XCTAssertEqual(level["epoch"].int, 2)
        let former = level["replicas"].array.first { $0["name"].string == "catalog-1" }
        XCTAssertEqual(former?["role"].string, "backup", "\(level)")
        await Self.buy(stack, 2, into: acknowledged)
        try await checkNothingLost(stack, acknowledged)
        let status = try stack.ctl("status").1
        XCTAssertTrue(status.contains("primary catalog-2") && status.contains("epoch 2"), status)
    }

    /// A former primary that learns at start that a newer epoch leads empties its store to the
    /// deployment's first state, default books included: emptied of every book, it served 404
    /// for a book never written since (a full copy from the new primary brings only books
    /// written after that state), while `/health` called it level (SupervisorAloneTests in CI,
    /// when catalog-2 won an epoch before the killed catalog-1 came back).
    func testAFormerPrimaryThatRejoinsAtStartServesEveryBook() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        XCTAssertEqual(try stack.ctl("stop", "catalog-1").0, 0)
        _ = try await firstWrite(after: Date(), stack, Acknowledged())
        XCTAssertEqual(try stack.ctl("start", "catalog-1").0, 0)
        _ = try await waitForPrimary("catalog-2", stack)
        let log = try String(contentsOf: stack.variables.appendingPathComponent("log/catalog-1.log"), encoding: .utf8)
        XCTAssertTrue(log.contains("starting as a backup with an empty store"), "catalog-1 learned the newer epoch at start")
        for id in 1...3 {
            let books = try ["catalog-1", "catalog-2"].map { try stack.internalGet("/\($0)/info/\(id)") }
            XCTAssertTrue(books[0].contains("\"id\":\(id),"), "catalog-1, book \(id): \(books[0])")
            XCTAssertEqual(books[0], books[1], "book \(id)")
        }
    }

    /// (b) fencing: a primary that hung, was replaced, and wakes up with a write it took while
    /// hung never acknowledges it; it steps down and rejoins as a backup, and the write is gone
    /// unless the new primary took and acknowledged it.
    func testAWriteTheDeposedPrimaryNeverAcknowledgedIsGone() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let hung = try XCTUnwrap(stack.pid("catalog-1"))
        kill(hung, SIGSTOP)
        let stopped = Date()
        let update = Task { try await stack.client.update(5, #"{"price": 77.25}"#) }
        // The backup takes over; nginx still tries catalog-1 first, which holds what it gets
        // until it runs again, learns the newer epoch and steps down.
        var health = JSONValue.null
        while health["epoch"].int != 2 && Date() < stopped.addingTimeInterval(60) {
            health = (try? await stack.client.get("/health"))?.json ?? .null
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        XCTAssertEqual(health["primary"].string, "catalog-2", "\(health)")
        print("failover: catalog-2 led \(String(format: "%.2f", Date().timeIntervalSince(stopped))) s after catalog-1 hung")
        kill(hung, SIGCONT)
        let acknowledged = Acknowledged()
        _ = try await firstWrite(after: Date(), stack, acknowledged)
        let answer = try await update.value
        _ = try await waitForPrimary("catalog-2", stack)
        // nginx may have passed the update on to catalog-2 once catalog-1 stepped down without
        // applying it: then catalog-2 acknowledged it, and it stays. Otherwise it is gone.
        let acknowledgedByTheNewPrimary = answer.status == 200
        print("failover: the update sent to the hung primary was answered \(answer.status)")
        for path in ["/catalog-1/info/5", "/catalog-2/info/5"] {
            let book = try stack.internalGet(path)
            XCTAssertEqual(book.contains("77.25"), acknowledgedByTheNewPrimary, "\(path) after a \(answer.status): \(book)")
        }
        let read = try await stack.client.get("/info/5", headers: ["Cache-Control": "no-cache"])
        XCTAssertEqual(read.json["price"].double == 77.25, acknowledgedByTheNewPrimary)
    }

    /// (c): `bazarctl switchover` under a steady load of purchases and price updates fails no
    /// request; the former primary rejoins as the backup.
    func testSwitchoverUnderASteadyWriteLoadFailsNoRequest() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        for book in 1...7 { _ = try await stack.client.update(book, #"{"stock": 1000000}"#) }
        let failed = Failed()
        let load = Task.detached {
            await stack.client.load(workers: 3, seconds: 7) { worker in
                guard worker > 0 else {
                    return await failed.record(await stack.client.sendOnce("PUT", "/update/\(Int.random(in: 1...7))",
                                                                            headers: ["Authorization": "Bearer \(Stack.adminToken)"],
                                                                            body: #"{"price": 12.5}"#))
                }
                await failed.record(await stack.client.sendOnce("POST", "/purchase/\(Int.random(in: 1...7))"))
            }
        }
        try await Task.sleep(nanoseconds: 2_000_000_000)
        let (status, output) = try stack.ctl("switchover")
        XCTAssertEqual(status, 0, output)
        await load.value
        let (statuses, succeeded) = (await failed.statuses, await failed.succeeded)
        XCTAssertEqual(statuses, [:], "requests failed during the switchover (\(succeeded) succeeded)")
        print("switchover: \(succeeded) writes answered 200, failed: \(statuses)")
        let level = try await waitForPrimary("catalog-2", stack)
        XCTAssertEqual(level["epoch"].int, 2)
    }

    /// (c) again, back and forth: three switchovers in a row under reads that skip the fronts'
    /// caches, price updates and purchases fail no request (a promoted primary serves reads while it waits out the old leases:
    /// with both replicas refusing, reads were 503 for a second or more), and the supervisor
    /// starts each former primary again with no back-off, since it exited on purpose (it was
    /// treated as crash-looping: 1 s, then 2 s and more of a stack with one catalog replica).
    func testSwitchoversBackAndForthFailNoRequestAndRestartWithoutBackOff() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        for book in 1...7 { _ = try await stack.client.update(book, #"{"stock": 1000000}"#) }
        let reads = Failed(), writes = Failed()
        let load = Task.detached {
            await stack.client.load(workers: 4, seconds: 15) { worker in
                guard worker > 0 else {
                    await writes.record(await stack.client.sendOnce("PUT", "/update/\(Int.random(in: 1...7))",
                                                                     headers: ["Authorization": "Bearer \(Stack.adminToken)"],
                                                                     body: #"{"price": 12.5}"#))
                    await writes.record(await stack.client.sendOnce("POST", "/purchase/\(Int.random(in: 1...7))"))
                    return
                }
                await reads.record(await stack.client.sendOnce("GET", "/info/\(Int.random(in: 1...7))",
                                                                headers: ["Cache-Control": "no-cache"]))
            }
        }
        try await Task.sleep(nanoseconds: 1_000_000_000)
        for next in ["catalog-2", "catalog-1", "catalog-2"] {
            let (status, output) = try stack.ctl("switchover")
            XCTAssertEqual(status, 0, output)
            _ = try await waitForPrimary(next, stack)
        }
        await load.value
        let (statuses, succeeded) = (await reads.statuses, await reads.succeeded)
        XCTAssertEqual(statuses, [:], "reads failed during the switchovers (\(succeeded) succeeded)")
        let (writeStatuses, written) = (await writes.statuses, await writes.succeeded)
        XCTAssertEqual(writeStatuses, [:], "writes failed during the switchovers (\(written) succeeded)")
        let supervisor = try String(contentsOf: stack.variables.appendingPathComponent("log/supervisor.log"), encoding: .utf8)
        let restarts = supervisor.split(separator: "\n").filter { $0.contains("is not running") && $0.contains("catalog-") }
        XCTAssertEqual(restarts.count, 3, supervisor)
        XCTAssertTrue(restarts.allSatisfy { $0.contains("starting it again in 500 ms") }, restarts.joined(separator: "\n"))
    }

    /// A primary whose flags say backup (catalog-2, after a switchover) loses its disk and comes
    /// back while its backup cannot run for the next epoch (hung): with an empty store it knew
    /// only the flags' first epoch and started as a backup of catalog-1, whose backup waited
    /// on it as on a primary. Now it learns its epoch from the witnesses and recovers from
    /// catalog-1, or catalog-1 (which waits on it only while it answers as that epoch's
    /// primary) wins the next epoch: either way writes go on with nothing lost. (The chaos run of seed 437384531 ended with both
    /// replicas backups, each waiting on the other, and no write for good.)
    func testAPrimaryBackWithAnEmptyStoreAsABackupDoesNotLeaveTheStackWithoutAPrimary() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        let acknowledged = try await handToCatalog2(stack)
        let backup = try XCTUnwrap(stack.pid("catalog-1"))
        kill(backup, SIGSTOP)
        defer { kill(backup, SIGCONT) }
        XCTAssertEqual(try stack.ctl("stop", "catalog-2").0, 0)
        let data = stack.variables.appendingPathComponent("data")
        for file in try FileManager.default.contentsOfDirectory(at: data, includingPropertiesForKeys: nil)
        where file.lastPathComponent.hasPrefix("catalog-2.db") {
            try FileManager.default.removeItem(at: file)
        }
        XCTAssertEqual(try stack.ctl("start", "catalog-2").0, 0)
        kill(backup, SIGCONT)
        _ = try await firstWrite(after: Date(), stack, acknowledged)
        // Either leads now: catalog-1, having won the next epoch, or catalog-2, which learned
        // from the witnesses that it leads and recovered every write from catalog-1.
        let health = try await stack.waitUntilLevel()
        XCTAssertTrue(["catalog-1", "catalog-2"].contains(health["primary"].string ?? ""), "\(health)")
        try await checkNothingLost(stack, acknowledged)
    }

    /// A primary paused long enough to be replaced wakes still believing it leads: reads sent
    /// to it while it was paused must not be answered from before the write its successor
    /// acknowledged meanwhile (promise 2; the 10-minute chaos run of seed 437384531 read
    /// version 29147 of a book 4.9 s after version 29408 was acknowledged).
    func testADeposedPrimaryThatWakesAnswersNoStaleRead() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        // catalog-2 leads, so that nginx, which tries catalog-1 first, reaches the successor
        // while the deposed primary hangs.
        let acknowledged = try await handToCatalog2(stack)
        let before = try await stack.client.get("/info/5", headers: ["Cache-Control": "no-cache"]).json["price"]
        let hung = try XCTUnwrap(stack.pid("catalog-2"))
        kill(hung, SIGSTOP)
        defer { kill(hung, SIGCONT) }
        _ = try await firstWrite(after: Date(), stack, acknowledged)
        let update = try await stack.client.update(5, #"{"price": 61.5}"#)
        XCTAssertEqual(update.status, 200)
        XCTAssertNotEqual(before, .number(61.5))
        let reads = (0..<12).map { _ in Task.detached { try? stack.internalGet("/catalog-2/info/5") } }
        try await Task.sleep(nanoseconds: 300_000_000)
        kill(hung, SIGCONT)
        for read in reads {
            guard let body = await read.value, let book = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                  let price = book["price"] as? Double else { continue }   // refused, or no answer: not stale
            XCTAssertEqual(price, 61.5, "a read the deposed primary answered after it woke: \(body)")
        }
    }

    /// A backup that won the next epoch but died before it heard the grant comes back as that
    /// epoch's primary: the witnesses hold the epoch naming it and the old primary stepped down
    /// for it, so waiting as a backup of the epoch before left the stack with no primary (the
    /// containers' chaos, seed 65014514). The lost answer is played here by asking the witnesses
    /// for catalog-1's epoch while it is stopped.
    func testABackupThatDiedBeforeHearingItWonLeadsWhenItComesBack() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        let acknowledged = try await handToCatalog2(stack)
        XCTAssertEqual(try stack.ctl("stop", "catalog-1").0, 0)
        let request = #"{"candidate": "catalog-1", "epoch": 2, "primary": "catalog-2"}"#
        let (status, answer) = try stack.internalPost("/order-1/epoch", body: request)
        XCTAssertEqual(status, 200, answer)
        XCTAssertEqual(try stack.ctl("start", "catalog-1").0, 0)
        _ = try await firstWrite(after: Date(), stack, acknowledged)
        let health = try await waitForPrimary("catalog-1", stack)
        XCTAssertEqual(health["epoch"].int, 3)
        try await checkNothingLost(stack, acknowledged)
    }

    /// A hung backup holds no write: catalog-1, the backup after a switchover, is paused, and
    /// purchases and updates go on at catalog-2, each answered 200 at its first try. Callers
    /// address the primary they learned: nginx's `/catalog-primary/`, which tries catalog-1
    /// first, waited on the paused replica until every caller gave up (504).
    func testAHungBackupHoldsNoWrite() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await handToCatalog2(stack)
        let backup = try XCTUnwrap(stack.pid("catalog-1"))
        kill(backup, SIGSTOP)
        defer { kill(backup, SIGCONT) }
        var statuses: [String] = []
        for book in 1...3 {
            statuses.append("purchase \(try await stack.client.send("POST", "/purchase/\(book)").status)")
            statuses.append("update \(try await stack.client.update(book + 3, #"{"price": 33.5}"#).status)")
        }
        XCTAssertEqual(statuses, (1...3).flatMap { _ in ["purchase 200", "update 200"] })
    }

    /// (d): order numbers stay unique and increasing across two failovers, one each way.
    func testOrderNumbersGoOnAcrossTwoFailovers() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let acknowledged = Acknowledged()
        var phases: [[Int]] = []
        for (primary, next) in [("catalog-1", "catalog-2"), ("catalog-2", "catalog-1")] {
            let before = await acknowledged.orders.count
            for book in 1...4 { await Self.buy(stack, book, into: acknowledged) }
            phases.append(await acknowledged.orders.dropFirst(before).map(\.number))
            XCTAssertEqual(try stack.ctl("stop", primary).0, 0)
            let stopped = Date()
            while await acknowledged.first(after: stopped) == nil && Date() < stopped.addingTimeInterval(60) {
                await Self.buy(stack, 1, into: acknowledged)
            }
            XCTAssertEqual(try stack.ctl("start", primary).0, 0)
            _ = try await waitForPrimary(next, stack)
        }
        let before = await acknowledged.orders.count
        for book in 1...4 { await Self.buy(stack, book, into: acknowledged) }
        phases.append(await acknowledged.orders.dropFirst(before).map(\.number))
        let numbers = await acknowledged.orders.map(\.number)
        XCTAssertEqual(Set(numbers).count, numbers.count, "an order number given twice: \(numbers)")
        XCTAssertEqual(numbers, numbers.sorted(), "order numbers went back: \(numbers)")
        for (earlier, later) in zip(phases, phases.dropFirst()) {
            XCTAssertLessThan(earlier.max() ?? 0, later.min() ?? .max, "\(phases)")
        }
        let health = try await stack.client.get("/health")
        XCTAssertEqual(health.json["epoch"].int, 3, "\(health.json)")
        try await checkNothingLost(stack, acknowledged)
    }
}

/// The writes answered 200, with when.
actor Acknowledged {
    private(set) var orders: [(number: Int, book: Int, at: Date)] = []
    private(set) var versions: [Int: Int] = [:]
    private(set) var times: [Date] = []

    func order(_ answer: HTTPAnswer, book: Int) {
        guard let number = answer.json["order"]["number"].int else { return }
        orders.append((number, book, Date()))
        times.append(Date())
    }

    func update(_ answer: HTTPAnswer, book: Int) {
        guard let version = answer.json["version"].int else { return }
        versions[book] = max(versions[book] ?? 0, version)
        times.append(Date())
    }

    func first(after date: Date) -> Date? { times.filter { $0 > date }.min() }
}

/// The answers other than 200 of a load, by status (nil: no answer).
actor Failed {
    private(set) var statuses: [String: Int] = [:]
    private(set) var succeeded = 0

    func record(_ status: Int?) {
        if status == 200 { succeeded += 1 } else { statuses[status.map(String.init) ?? "none", default: 0] += 1 }
    }
}
