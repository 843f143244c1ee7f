import Foundation
import XCTest

/// Requests are traceable (API.md, "Operating it"): every answer carries `X-Request-Id` (the
/// client's when sane), `log/access.log` has a logfmt line naming it, the tiers' warn and error
/// lines name it, and the answers nginx makes itself are counted in `/metrics`.
final class TraceTests: StackTestCase {
    /// The client's sane id comes back, and the access log names it with the method, the
    /// route, the status and the front's socket that answered.
    func testClientRequestIDComesBackAndIsInTheAccessLog() async throws {
        let stack = try stack
        let id = "trace-\(UUID().uuidString.lowercased()):1.a_b"
        let answer = try await client.get("/info/1", headers: ["X-Request-Id": id])
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.header("X-Request-Id"), id)
        let line = try await logLine("access", containing: #"request_id="\#(id)""#)
        for field in [#"method="GET""#, "route=info", #"uri="/info/1""#, "status=200",
                      #"upstream="unix:\#(stack.variables.path)/run/front.sock""#, #"by_nginx="""#] {
            XCTAssertTrue(line.contains(field), "no \(field) in: \(line)")
        }
        XCTAssertNotNil(line.range(of: #" upstream_time="\d+\.\d{3}" time=\d+\.\d{3} "#, options: .regularExpression), line)
    }

    /// An id that is not 1 to 128 of A-Z a-z 0-9 . _ : - is replaced by nginx's own, which the
    /// answer and the access log then name.
    func testInsaneRequestIDIsReplaced() async throws {
        for insane in ["has space", "quote\"d", String(repeating: "a", count: 129), "a,b"] {
            let answer = try await client.get("/info/2", headers: ["X-Request-Id": insane])
            XCTAssertEqual(answer.status, 200)
            let id = try XCTUnwrap(answer.header("X-Request-Id"))
            XCTAssertNotNil(id.range(of: "^[0-9a-f]{32}$", options: .regularExpression), "\(insane) came back as \(id)")
            _ = try await logLine("access", containing: #"request_id="\#(id)" method="GET" route=info"#)
        }
    }

    /// nginx's own answers (an unknown route, a body over 64 KiB) carry the id, are logged as
    /// nginx's, and are counted by status in `/metrics`.
    func testNginxOwnAnswersCarryTheIDAndAreCounted() async throws {
        let before = try await nginxAnswers()
        let missing = try await client.get("/no-such-route", headers: ["X-Request-Id": "own-404"])
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.errorCode, "not_found")
        XCTAssertEqual(missing.header("X-Request-Id"), "own-404")
        let large = try await client.send("PUT", "/update/1", headers: ["X-Request-Id": "own-413"],
                                          body: Data(repeating: UInt8(ascii: "x"), count: 70_000))
        XCTAssertEqual(large.status, 413)
        XCTAssertEqual(large.header("X-Request-Id"), "own-413")
        let line = try await logLine("access", containing: #"request_id="own-404""#)
        XCTAssertTrue(line.contains(#"status=404 by_nginx="1" upstream="""#), line)
        let deadline = Date().addingTimeInterval(15)
        var after = (try? await nginxAnswers()) ?? [:]
        while Date() < deadline, (after["404"] ?? 0) <= (before["404"] ?? 0) || (after["413"] ?? 0) <= (before["413"] ?? 0) {
            try await Task.sleep(nanoseconds: 200_000_000)
            after = (try? await nginxAnswers()) ?? [:]
        }
        XCTAssertGreaterThan(after["404"] ?? 0, before["404"] ?? 0, "\(before) → \(after)")
        XCTAssertGreaterThan(after["413"] ?? 0, before["413"] ?? 0, "\(before) → \(after)")
    }

    /// nginx's 503 for a front that is down carries the id, is logged as nginx's with the
    /// front's socket it tried, and is counted.
    func testFailedFrontAnswerCarriesTheIDAndIsCounted() async throws {
        let stack = try stack
        let before = try await nginxAnswers()
        XCTAssertEqual(try stack.ctl("stop", "front").0, 0)
        let answer = try await client.get("/info/2", headers: ["X-Request-Id": "front-down"])
        XCTAssertEqual(try stack.ctl("start", "front").0, 0)
        XCTAssertEqual(answer.status, 503)
        XCTAssertEqual(answer.errorCode, "unavailable")
        XCTAssertEqual(answer.header("X-Request-Id"), "front-down")
        let line = try await logLine("access", containing: #"request_id="front-down""#)
        XCTAssertTrue(line.contains(#"status=503 by_nginx="1" upstream="unix:\#(stack.variables.path)/run/front.sock""#), line)
        let deadline = Date().addingTimeInterval(15)
        var after = (try? await nginxAnswers()) ?? [:]
        while Date() < deadline, (after["503"] ?? 0) <= (before["503"] ?? 0) {
            try await Task.sleep(nanoseconds: 200_000_000)
            after = (try? await nginxAnswers()) ?? [:]
        }
        XCTAssertGreaterThan(after["503"] ?? 0, before["503"] ?? 0, "\(before) → \(after)")
    }

    /// A warn line a tier writes while serving a request names that request: a purchase while
    /// order-2 is stopped makes the order replica that took it warn that its peer missed it.
    func testTierWarnLineNamesTheRequestThatCausedIt() async throws {
        let stack = try stack
        XCTAssertEqual(try stack.ctl("stop", "order-2").0, 0)
        defer { _ = try? stack.ctl("start", "order-2") }
        let id = "buy-\(UUID().uuidString.lowercased())"
        // The replica pauses its pushes for a second after a miss: purchase until one warns.
        var line: String?
        for _ in 0..<5 where line == nil {
            let answer = try await client.send("POST", "/purchase/3", headers: ["X-Request-Id": id])
            XCTAssertEqual(answer.status, 200)
            XCTAssertEqual(answer.header("X-Request-Id"), id)
            line = try? await logLine("order-1", containing: "request_id=\(id)", timeout: 1.5)
        }
        let warn = try XCTUnwrap(line, "order-1.log names no request_id=\(id)")
        XCTAssertTrue(warn.contains("level=warn msg=\"the peer missed orders"), warn)
    }

    /// The first line of `log/NAME.log` containing `text`, waiting up to `timeout` seconds for
    /// it (nginx flushes its access log at least every second).
    private func logLine(_ name: String, containing text: String, timeout: TimeInterval = 15) async throws -> String {
        let file = try stack.variables.appendingPathComponent("log/\(name).log")
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let log = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
            if let line = log.split(separator: "\n").first(where: { $0.contains(text) }) { return String(line) }
            guard Date() < deadline else { throw StackError.startFailed("no line with \(text) in \(name).log:\n\(log.suffix(2000))") }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
    }

    /// `bazar_nginx_answers_total` by status, from `/metrics` (throws unless it answers 200).
    private func nginxAnswers() async throws -> [String: Int] {
        let answer = try await client.get("/metrics", headers: ["Authorization": "Bearer \(Stack.adminToken)"])
        guard answer.status == 200 else { throw StackError.startFailed("GET /metrics answered \(answer.status)") }
        var counts: [String: Int] = [:]
        for line in String(decoding: answer.body, as: UTF8.self).split(separator: "\n")
        where line.hasPrefix("bazar_nginx_answers_total{status=\"") {
            let parts = line.dropFirst("bazar_nginx_answers_total{status=\"".count).split(separator: "\"")
            if parts.count == 2, let count = Int(parts[1].dropFirst(2)) { counts[String(parts[0])] = count }
        }
        return counts
    }
}
