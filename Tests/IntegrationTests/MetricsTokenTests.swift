import Foundation
import XCTest

/// `GET /metrics` takes a read-only metrics token (API.md, "Operating it"), which nothing else
/// takes, and which Debian's `prometheus` user can read: bazarctl copies it to
/// `BAZAR_METRICS_TOKEN_COPY` (mode 0640, group `BAZAR_METRICS_GROUP`), since it cannot enter
/// `BAZAR_VAR`. The scrape configuration docs/operating.md gives is run by a real Prometheus.
final class MetricsTokenTests: StackTestCase {
    /// Where bazarctl copies the token for Prometheus (a directory the `prometheus` user enters).
    static let scrapeDirectory: URL = {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("bazar-scrape-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o755])
        return directory
    }()
    static var tokenCopy: URL { scrapeDirectory.appendingPathComponent("bazar-metrics.token") }

    override class var stackEnvironment: [String: String] {
        ["BAZAR_METRICS_TOKEN_COPY": tokenCopy.path, "BAZAR_METRICS_GROUP": "prometheus"]
    }

    override class func tearDown() {
        super.tearDown()
        try? FileManager.default.removeItem(at: scrapeDirectory)
    }

    /// The metrics token reads `/metrics` (GET and HEAD); every write that takes the admin token
    /// refuses it (401) and changes nothing.
    func testMetricsTokenReadsMetricsAndWritesNothing() async throws {
        let token = try metricsToken()
        XCTAssertNotEqual(token, Stack.adminToken)
        let bearer = ["Authorization": "Bearer \(token)"]
        let metrics = try await client.get("/metrics", headers: bearer)
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(String(decoding: metrics.body, as: UTF8.self).contains("bazar_up{"))
        let head = try await client.send("HEAD", "/metrics", headers: bearer)
        XCTAssertEqual(head.status, 200)
        let asAdmin = try await client.get("/metrics", headers: ["Authorization": "Bearer \(Stack.adminToken)"])
        XCTAssertEqual(asAdmin.status, 200)
        let book = try await client.get("/info/4", headers: ["Cache-Control": "no-cache"]).json
        let update = try await client.update(4, #"{"price": 99.5}"#, token: token)
        XCTAssertEqual(update.status, 401)
        XCTAssertEqual(update.errorCode, "unauthorized")
        let addition = try await client.addBooks(#"{"title": "Scraped", "topic": "metrics", "price": 1, "stock": 1}"#, token: token)
        XCTAssertEqual(addition.status, 401)
        let after = try await client.get("/info/4", headers: ["Cache-Control": "no-cache"]).json
        XCTAssertEqual(after, book)
        let added = try await client.searchIDs("metrics")
        XCTAssertEqual(added, [])
    }

    /// The token stays 0600 in BAZAR_VAR; its copy is 0640, group `prometheus`, the same token.
    func testTokenCopyIsReadableByTheScrapersGroup() throws {
        let variables = try stack.variables
        let original = try FileManager.default.attributesOfItem(atPath: variables.appendingPathComponent("metrics.token").path)
        XCTAssertEqual((original[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let copy = try FileManager.default.attributesOfItem(atPath: Self.tokenCopy.path)
        XCTAssertEqual((copy[.posixPermissions] as? NSNumber)?.intValue, 0o640)
        XCTAssertEqual(copy[.groupOwnerAccountName] as? String, "prometheus")
        XCTAssertEqual(try String(contentsOf: Self.tokenCopy, encoding: .utf8).trimmingCharacters(in: .newlines), try metricsToken())
    }

    /// Prometheus, as the `prometheus` user and with the `scrape_configs` entry of
    /// docs/operating.md, scrapes the stack: its target is up and it holds `bazar_up`.
    func testPrometheusScrapesWithTheCopiedToken() async throws {
        let prometheus = "/usr/bin/prometheus"
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: prometheus),
                      "no \(prometheus): install Debian's prometheus package (apt-get install prometheus)")
        let stack = try stack
        let storage = Self.scrapeDirectory.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: storage, withIntermediateDirectories: true)
        _ = try stack.run("/usr/bin/chown", ["prometheus:prometheus", storage.path])
        let configuration = Self.scrapeDirectory.appendingPathComponent("prometheus.yml")
        try """
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: bazar
                metrics_path: /metrics
                authorization:
                  credentials_file: \(Self.tokenCopy.path)
                static_configs:
                  - targets: ["127.0.0.1:\(stack.port)"]
            """.write(to: configuration, atomically: true, encoding: .utf8)
        let check = try stack.run("/usr/bin/promtool", ["check", "config", configuration.path])
        XCTAssertEqual(check.0, 0, check.1)
        let webPort = try Stack.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        server.arguments = ["-u", "prometheus", "--", prometheus, "--config.file=\(configuration.path)",
                            "--storage.tsdb.path=\(storage.path)", "--web.listen-address=127.0.0.1:\(webPort)"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        let query = HTTPClient(base: "http://127.0.0.1:\(webPort)")
        let deadline = Date().addingTimeInterval(60)
        var up: JSONValue = .null
        var bazarUp: JSONValue = .null
        while Date() < deadline {
            up = (try? await query.get("/api/v1/query?query=up%7Bjob%3D%22bazar%22%7D").json) ?? .null
            bazarUp = (try? await query.get("/api/v1/query?query=bazar_up%7Breplica%3D%22catalog-1%22%7D").json) ?? .null
            if up["data"]["result"].array.first?["value"].array.last?.string == "1",
               bazarUp["data"]["result"].array.first?["value"].array.last?.string == "1" { break }
            try await Task.sleep(nanoseconds: 500_000_000)
        }
        XCTAssertEqual(up["data"]["result"].array.first?["value"].array.last?.string, "1", "up: \(up)")
        XCTAssertEqual(bazarUp["data"]["result"].array.first?["value"].array.last?.string, "1", "bazar_up: \(bazarUp)")
    }

    /// `BAZAR_METRICS_TOKEN` is the token the front admits, and no process of the stack has it in
    /// its environment: the front alone holds metrics.token, on a descriptor.
    func testMetricsTokenFromTheEnvironmentStaysOutOfEveryTiersEnvironment() async throws {
        let token = "integration-metrics-\(UUID().uuidString.prefix(8))"
        let stack = try Stack(["BAZAR_METRICS_TOKEN": token])
        defer { stack.stop() }
        let metrics = try await stack.client.get("/metrics", headers: ["Authorization": "Bearer \(token)"])
        XCTAssertEqual(metrics.status, 200)
        let tokenFile = stack.variables.appendingPathComponent("metrics.token").path
        for name in ["front", "catalog-1", "catalog-2", "order-1", "order-2"] {
            let pid = try XCTUnwrap(stack.pid(name), name)
            let environment = (try? String(contentsOfFile: "/proc/\(pid)/environ", encoding: .utf8)) ?? ""
            XCTAssertFalse(environment.contains(token), "\(name)'s environment holds the metrics token")
            let targets = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).map {
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) ?? ""
            }
            XCTAssertEqual(targets.contains(tokenFile), name == "front", "\(name)'s descriptors: \(targets)")
        }
    }

    private func metricsToken() throws -> String {
        try String(contentsOf: stack.variables.appendingPathComponent("metrics.token"), encoding: .utf8)
            .trimmingCharacters(in: .newlines)
    }
}
