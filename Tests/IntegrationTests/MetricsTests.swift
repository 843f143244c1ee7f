import Foundation
import XCTest

/// `GET /metrics`: every tier's metrics through the front, read with prometheus_client's parser
/// (`MetricsScrape`).
final class MetricsTests: StackTestCase {
    static let routes: Set = ["info", "search", "purchase", "orders", "update", "books", "health", "stats", "metrics", "invalidate",
                              "take", "take-batch", "settle", "lease", "takes", "replicate", "held", "witness", "acknowledged", "state", "changes", "stand-in", "epoch",
                              "switchover", "take-over", "other"]

    /// Without the admin token (or with a wrong one) `/metrics` is a JSON 401.
    func testMetricsNeedTheAdminToken() async throws {
        for headers in [[:], ["Authorization": "Bearer wrong"], ["Authorization": "Basic \(Stack.adminToken)"]] {
            let answer = try await client.get("/metrics", headers: headers)
            XCTAssertEqual(answer.status, 401, "\(headers)")
            XCTAssertEqual(answer.errorCode, "unauthorized", "\(headers)")
        }
    }

    /// Every process reports; families have HELP and TYPE; labels are bounded; counters move
    /// after reads and a purchase, and the answer is never cached.
    func testMetricsOfEveryTierMoveAfterRequests() async throws {
        let stack = try stack
        let (primary, backup) = try await roles()
        try await stack.warm("/info/1")
        let before = try await scrape()
        // prometheus_client names a counter's family without its samples' `_total`.
        for family in ["bazar_up", "bazar_requests", "bazar_request_duration_seconds", "bazar_cache_hits",
                       "bazar_cache_misses", "bazar_cache_evictions", "bazar_cache_entries", "bazar_replication_lag",
                       "bazar_applied", "bazar_orders_held", "bazar_orders_waiting", "bazar_takes_waiting", "bazar_misses_queued"] {
            XCTAssertNotNil(before.families[family], "no family \(family) in:\n\(before.text)")
        }
        XCTAssertEqual(before.families["bazar_request_duration_seconds"]?.type, "histogram")
        XCTAssertEqual(before.families["bazar_requests"]?.type, "counter")
        for replica in ["front", "catalog-1", "catalog-2", "order-1", "order-2"] {
            XCTAssertEqual(before.value("bazar_up", ["replica": replica]), 1, replica)
        }
        XCTAssertNotNil(before.sample("bazar_replication_lag", ["replica": backup]), "the lag is the backup's, \(backup)")
        XCTAssertNotNil(before.value("bazar_orders_held", ["replica": "order-1"]))
        XCTAssertEqual(before.sample("bazar_orders_waiting", ["replica": "order-1"])?.value, 0, "no purchase waits while none is made")
        XCTAssertEqual(before.sample("bazar_takes_waiting", ["replica": "order-1"])?.value, 0, "no take waits while none is made")
        for sample in before.families["bazar_requests"]?.samples ?? [] {
            XCTAssertTrue(Self.routes.contains(sample.labels["route"] ?? ""), "route label \(sample.labels)")
        }
        XCTAssertTrue(before.text.contains("# HELP bazar_requests_total "), before.text)

        _ = try await client.get("/info/1")
        _ = try await client.get("/info/1")
        _ = try await client.get("/info/\(Int.random(in: 100_000...999_999))")
        let purchase = try await client.send("POST", "/purchase/2")
        XCTAssertEqual(purchase.status, 200)
        let after = try await scrape()

        let front200 = ["replica": "front", "route": "info", "status": "200"]
        XCTAssertGreaterThanOrEqual(after.value("bazar_requests_total", front200) - before.value("bazar_requests_total", front200), 2)
        let front404 = ["replica": "front", "route": "info", "status": "404"]
        XCTAssertGreaterThanOrEqual(after.value("bazar_requests_total", front404) - before.value("bazar_requests_total", front404), 1)
        XCTAssertGreaterThanOrEqual(after.value("bazar_cache_hits_total", ["replica": "front"])
                                    - before.value("bazar_cache_hits_total", ["replica": "front"]), 2)
        let info = ["replica": "front", "route": "info"]
        XCTAssertGreaterThanOrEqual(after.value("bazar_request_duration_seconds_count", info)
                                    - before.value("bazar_request_duration_seconds_count", info), 3)
        XCTAssertEqual(after.value("bazar_request_duration_seconds_bucket", info.merging(["le": "+Inf"]) { $1 }),
                       after.value("bazar_request_duration_seconds_count", info))
        let take = ["replica": primary, "route": "take", "status": "200"]
        XCTAssertEqual(after.value("bazar_requests_total", take) - before.value("bazar_requests_total", take), 1)
        let purchases = ["order-1", "order-2"].map { ["replica": $0, "route": "purchase", "status": "200"] }
        XCTAssertEqual(purchases.map { after.value("bazar_requests_total", $0) - before.value("bazar_requests_total", $0) }
            .reduce(0, +), 1)
        let metrics = ["replica": "front", "route": "metrics", "status": "200"]
        XCTAssertEqual(after.value("bazar_requests_total", metrics) - before.value("bazar_requests_total", metrics), 1,
                       "a /metrics answer came from a cache")
    }

    /// A replica that does not answer is `bazar_up 0`; the others still report.
    func testAHungReplicaIsDown() async throws {
        let stack = try stack
        let pid = try XCTUnwrap(stack.pid("order-2"))
        kill(pid, SIGSTOP)
        defer { kill(pid, SIGCONT) }
        let report = try await scrape()
        XCTAssertEqual(report.value("bazar_up", ["replica": "order-2"]), 0)
        XCTAssertEqual(report.value("bazar_up", ["replica": "order-1"]), 1)
        XCTAssertNil(report.families["bazar_orders_held"]?.samples.first { $0.labels["replica"] == "order-2" })
    }

    /// A scrape while the backup is down still has `bazar_replication_lag` (the backup as last
    /// seen), next to `bazar_up 0` for it; the backup is whichever replica does not lead (the
    /// lease test before this one hangs catalog-1 past the failover time, so catalog-2 leads).
    func testTheReplicationLagIsReportedWhileTheBackupIsDown() async throws {
        let stack = try stack
        let (primary, backup) = try await roles()
        let before = try await scrape()
        XCTAssertNotNil(before.sample("bazar_replication_lag", ["replica": backup]), "no lag for the backup, \(backup)")
        let pid = try XCTUnwrap(stack.pid(backup))
        kill(pid, SIGSTOP)
        defer { kill(pid, SIGCONT) }
        let report = try await scrape()
        XCTAssertEqual(report.value("bazar_up", ["replica": backup]), 0)
        let lag = try XCTUnwrap(report.sample("bazar_replication_lag", ["replica": backup]), "no lag while the backup is down")
        XCTAssertEqual(lag.value, report.value("bazar_applied", ["replica": primary])
                       - before.value("bazar_applied", ["replica": backup]))
    }

    /// The primary reports how long the backup has lacked a write: 0 while it has every one, and
    /// more than 0, growing, once a write committed while the backup was down. (Stopped, not
    /// hung: after the lease test's failover catalog-1 is the backup, and while catalog-1 is hung
    /// nginx holds the primary's requests on it, docs/failover.md's Not yet.)
    func testThePrimaryReportsSecondsBehindWhileTheBackupLacksAWrite() async throws {
        let stack = try stack
        let (leader, backup) = try await roles()
        let primary = ["replica": leader]
        var level = try await scrape()
        for _ in 0..<300 where level.value("bazar_replication_lag_seconds", primary) != 0 {
            try await Task.sleep(nanoseconds: 100_000_000)
            level = try await scrape()
        }
        XCTAssertEqual(level.value("bazar_replication_lag_seconds", primary), 0, "the backup lacks nothing at rest")
        XCTAssertEqual(try stack.ctl("stop", backup).0, 0)
        defer { _ = try? stack.ctl("start", backup) }
        // Answered once the backup is demoted (or 504 if that takes too long): committed either way.
        _ = try await client.send("PUT", "/update/2", headers: ["Authorization": "Bearer \(Stack.adminToken)"],
                                  body: Data(#"{"stock_delta": 1}"#.utf8))
        let first = try await scrape().value("bazar_replication_lag_seconds", primary)
        XCTAssertGreaterThan(first, 0, "the backup lacks a committed write")
        let second = try await scrape().value("bazar_replication_lag_seconds", primary)
        XCTAssertGreaterThan(second, first, "seconds behind grow while the backup stays down")
    }

    /// A front reports whether it holds its read lease: not once the primary has been hung past
    /// a whole lease, and again once the primary answers.
    func testAFrontReportsItsReadLease() async throws {
        let stack = try stack
        let front = ["replica": "front"]
        let pid = try XCTUnwrap(stack.pid("catalog-1"))
        kill(pid, SIGSTOP)
        // A lease lasts 1 s from the front's request; the last was asked before the stop.
        try await Task.sleep(nanoseconds: 1_500_000_000)
        let hung = try await scrape()
        kill(pid, SIGCONT)
        XCTAssertEqual(hung.value("bazar_front_lease_held", front), 0, "a lease outlived a hung primary")
        var again = try await scrape()
        for _ in 0..<300 where again.value("bazar_front_lease_held", front) != 1 {
            try await Task.sleep(nanoseconds: 100_000_000)
            again = try await scrape()
        }
        XCTAssertEqual(again.value("bazar_front_lease_held", front), 1, "the front never held its lease again")
        // Hung past the failover time, catalog-1 may have lost the primary role: the next tests
        // start from a level stack, whichever replica leads.
        _ = try await stack.waitUntilLevel()
    }

    /// Every process reports its own `process_*` series and `bazar_build_info`; the front its
    /// cache's bounds; every route's request counts exist from 0; and promtool finds nothing
    /// wrong with the exposition.
    func testEveryProcessReportsItselfAndTheExpositionPassesPromtool() async throws {
        let report = try await scrape()
        let now = Date().timeIntervalSince1970
        let programs = ["front": "bazar-front", "catalog-1": "bazar-catalog", "catalog-2": "bazar-catalog",
                        "order-1": "bazar-order", "order-2": "bazar-order"]
        for (replica, program) in programs {
            let labels = ["replica": replica]
            XCTAssertGreaterThan(report.value("process_resident_memory_bytes", labels), 1_000_000, replica)
            XCTAssertGreaterThan(report.value("process_open_fds", labels), 2, replica)
            XCTAssertNotNil(report.sample("process_cpu_seconds_total", labels), replica)
            let started = report.value("process_start_time_seconds", labels)
            XCTAssertTrue((now - 3_600...now + 5).contains(started), "\(replica) started at \(started), now is \(now)")
            XCTAssertEqual(report.value("bazar_build_info", labels.merging(["program": program]) { $1 }), 1, replica)
        }
        XCTAssertEqual(report.value("bazar_cache_capacity", ["replica": "front"]), 10_000)
        XCTAssertGreaterThan(report.value("bazar_cache_capacity_bytes", ["replica": "front"]), 0)
        XCTAssertNotNil(report.sample("bazar_cache_bytes", ["replica": "front"]))
        for (replica, route) in [("front", "stats"), ("catalog-1", "takes"), ("order-2", "stand-in")] {
            let unseen = report.sample("bazar_requests_total", ["replica": replica, "route": route, "status": "413"])
            XCTAssertEqual(unseen?.value, 0, "\(replica)'s \(route) 413s are a series from the start")
            let histogram = report.sample("bazar_request_duration_seconds_count", ["replica": replica, "route": route])
            XCTAssertNotNil(histogram, "\(replica)'s \(route) latency is a series from the start")
        }
        let promtool = "/usr/bin/promtool"
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: promtool), "no \(promtool): apt-get install prometheus")
        XCTAssertEqual(try MetricsScrape.run(promtool, ["check", "metrics"], input: report.text), "", "promtool check metrics")
    }

    /// A process killed with SIGKILL is started again by the supervisor, which counts it:
    /// `bazar_supervisor_restarts_total{replica="…"}` grows by one, the others stay.
    func testSupervisorRestartsAreCounted() async throws {
        let stack = try stack
        let before = try await scrape()
        XCTAssertEqual(before.families["bazar_supervisor_restarts"]?.type, "counter")
        for process in ["front", "catalog-1", "catalog-2", "order-1", "order-2", "nginx", "nginx-internal"] {
            XCTAssertNotNil(before.families["bazar_supervisor_restarts"]?.samples.first { $0.labels["replica"] == process },
                            "no sample for \(process):\n\(before.text)")
        }
        let labels = ["replica": "order-2"]
        let old = try XCTUnwrap(stack.pid("order-2"))
        kill(old, SIGKILL)
        let restarted = try await stack.waitForNewPid("order-2", old: old, timeout: 30)
        XCTAssertNotNil(restarted, "the supervisor did not start order-2 again")
        var after = try await scrape()
        let deadline = Date().addingTimeInterval(60)   // generous: bounds only a hang
        while after.value("bazar_supervisor_restarts_total", labels) == before.value("bazar_supervisor_restarts_total", labels),
              Date() < deadline {
            try await Task.sleep(nanoseconds: 100_000_000)
            after = try await scrape()
        }
        XCTAssertEqual(after.value("bazar_supervisor_restarts_total", labels) - before.value("bazar_supervisor_restarts_total", labels), 1)
        let catalog = ["replica": "catalog-1"]
        XCTAssertEqual(after.value("bazar_supervisor_restarts_total", catalog), before.value("bazar_supervisor_restarts_total", catalog))
    }

    /// `GET /metrics` with the token, checked and parsed (`MetricsScrape`).
    /// The catalog replica that leads and the other, as `/health` names them once the stack is level.
    private func roles() async throws -> (primary: String, backup: String) {
        let health = try await stack.waitUntilLevel()
        let primary = try XCTUnwrap(health["primary"].string)
        return (primary, primary == "catalog-1" ? "catalog-2" : "catalog-1")
    }

    private func scrape() async throws -> MetricsScrape.Report {
        try await MetricsScrape.scrape(client)
    }
}

/// Scraping `/metrics` and reading it with prometheus_client's parser (Tests/metrics/parse.py,
/// in a venv, .build/prometheus-venv, made on first use).
enum MetricsScrape {
    static let venv = Stack.repository.appendingPathComponent(".build/prometheus-venv")

    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    struct Family {
        let type: String
        let samples: [Sample]
    }

    struct Report {
        let text: String
        let families: [String: Family]

        /// The value of the sample named `name` whose labels include `labels` (0 if none).
        func value(_ name: String, _ labels: [String: String]) -> Double {
            sample(name, labels)?.value ?? 0
        }

        /// The sample named `name` whose labels include `labels`, if there is one.
        func sample(_ name: String, _ labels: [String: String]) -> Sample? {
            families.values.flatMap(\.samples).first { sample in
                sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value }
            }
        }
    }

    /// `GET /metrics` with the token, checked for its headers and parsed by prometheus_client.
    static func scrape(_ client: HTTPClient) async throws -> Report {
        let answer = try await client.get("/metrics", headers: ["Authorization": "Bearer \(Stack.adminToken)"])
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        XCTAssertEqual(answer.header("Cache-Control"), "no-store")
        let text = String(decoding: answer.body, as: UTF8.self)
        let parsed = try parse(text)
        var families: [String: Family] = [:]
        for family in parsed.array {
            let samples = family["samples"].array.map { sample in
                Sample(name: sample["name"].string ?? "",
                       labels: sample["labels"].keys.reduce(into: [:]) { $0[$1] = sample["labels"][$1].string },
                       value: sample["value"].double ?? .nan)
            }
            families[family["name"].string ?? ""] = Family(type: family["type"].string ?? "", samples: samples)
        }
        return Report(text: text, families: families)
    }

    private static func parse(_ text: String) throws -> JSONValue {
        let python = venv.appendingPathComponent("bin/python").path
        if !FileManager.default.isExecutableFile(atPath: python) {
            _ = try run("/usr/bin/python3", ["-m", "venv", venv.path])
            _ = try run(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "prometheus_client==0.21.1"])
        }
        let script = Stack.repository.appendingPathComponent("Tests/metrics/parse.py").path
        let output = try run(python, [script], input: text)
        return JSONValue(try JSONSerialization.jsonObject(with: Data(output.utf8)))
    }

    /// Runs `program` with `input` on its standard input: its standard output; throws unless it exits 0.
    static func run(_ program: String, _ arguments: [String], input: String = "") throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw StackError.startFailed("\(program) \(arguments) exited \(process.terminationStatus)")
        }
        return String(decoding: output, as: UTF8.self)
    }
}

/// With three fronts, every scrape (whichever front nginx hands it to) has every front's own
/// series under its own name, so no counter of any front ever goes back between scrapes; a
/// stopped front is `bazar_up 0` and the others still report.
final class MultiFrontMetricsTests: StackTestCase {
    override class var stackEnvironment: [String: String] { ["BAZAR_FRONTS": "3"] }
    private static let fronts = ["front", "front-2", "front-3"]

    func testEveryScrapeHasEveryFrontsOwnCountersAndNoneGoesBack() async throws {
        let stack = try stack
        let client = try client
        _ = try await stack.waitUntilLevel()
        var previous: [String: [String: Double]] = [:]
        for scrape in 0..<10 {
            for _ in 0..<6 { _ = try await client.get("/info/\(scrape % 7 + 1)") }
            let report = try await MetricsScrape.scrape(client)
            for front in Self.fronts {
                XCTAssertEqual(report.value("bazar_up", ["replica": front]), 1, "scrape \(scrape): \(front) is up")
                let counters = Self.counters(of: front, in: report)
                XCTAssertNotNil(counters["bazar_cache_misses_total"], "scrape \(scrape): no series of \(front):\n\(report.text)")
                XCTAssertGreaterThan(counters["bazar_requests_total"] ?? 0, 0, "scrape \(scrape): \(front) counted no request")
                for (series, value) in counters {
                    let before = previous[front]?[series] ?? 0
                    XCTAssertGreaterThanOrEqual(value, before, "scrape \(scrape): \(front)'s \(series) went back")
                }
                previous[front] = counters
            }
        }
        let stopped = try stack.ctl("stop", "front-3")
        XCTAssertEqual(stopped.0, 0, stopped.1)
        for scrape in 0..<4 {
            let report = try await MetricsScrape.scrape(client)
            XCTAssertEqual(report.value("bazar_up", ["replica": "front-3"]), 0, "scrape \(scrape) after front-3 stopped")
            for front in ["front", "front-2"] {
                XCTAssertEqual(report.value("bazar_up", ["replica": front]), 1, "scrape \(scrape): \(front)")
                XCTAssertGreaterThanOrEqual(report.value("bazar_cache_misses_total", ["replica": front]),
                                            previous[front]?["bazar_cache_misses_total"] ?? .infinity, "scrape \(scrape): \(front)")
            }
            XCTAssertEqual(report.value("bazar_up", ["replica": "catalog-1"]), 1)
        }
    }

    /// Each of `front`'s counters (a sample of a counter family, its `replica` label `front`),
    /// by name and labels.
    private static func counters(of front: String, in report: MetricsScrape.Report) -> [String: Double] {
        var counters: [String: Double] = [:]
        for family in report.families.values where family.type == "counter" {
            for sample in family.samples where sample.labels["replica"] == front {
                let labels = sample.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                counters[sample.name + "{" + labels + "}"] = sample.value
            }
        }
        // One entry per family too, so that a missing family shows.
        for family in report.families.values where family.type == "counter" {
            let total = family.samples.filter { $0.labels["replica"] == front && $0.name.hasSuffix("_total") }.map(\.value)
            if !total.isEmpty { counters[family.samples.first { $0.name.hasSuffix("_total") }?.name ?? ""] = total.reduce(0, +) }
        }
        return counters
    }
}
