import Foundation
import XCTest

/// The hardened public surface (issue #5): internal endpoints are unreachable on the public
/// port, state files and sockets are private, refused admin calls are logged without the
/// token, and oversized or malformed HTTP gets API.md's JSON errors — never a 5xx and never a
/// change of data. Every test checks, after its probes, that `/health` is 200 and that the
/// books, the orders, the replicas' applied numbers and the cache's invalidation counter are
/// exactly what they were before.
final class SecurityTests: StackTestCase {
    // MARK: 1. Surface

    /// Every internal route (and a few ways of smuggling a path to one) answers a JSON
    /// 404/400/405 on the public listener, for every method, and changes nothing.
    func testInternalRoutesAreNotReachableOnThePublicPort() async throws {
        let internalPaths = [
            "/front/invalidate", "/front/invalidate?book=1&seq=99", "/front", "/front/",
            "/catalog/info/1", "/catalog/search/distributed%20systems", "/catalog/health",
            "/catalog-primary/take/1", "/catalog-primary/update/1", "/catalog-primary/takes",
            "/catalog-primary/takes?after=0", "/catalog-primary/health",
            "/catalog-1/replicate", "/catalog-2/replicate", "/catalog-1/info/1", "/catalog-2/health",
            "/catalog-1/takes", "/order-1/replicate", "/order-2/replicate", "/order-1/orders",
            "/order-2/purchase/1", "/order-1/health", "/orders/purchase/1", "/orders/orders",
            "/orders/orders/1", "/orders/replicate", "/orders/health", "/internal.sock", "/_bazar_error/not_found",
            // Path tricks: dot segments, encoded slashes and dots, doubled slashes.
            "/info/../catalog-primary/take/1", "/purchase/1/../../catalog-primary/take/1",
            "/purchase/%2E%2E/catalog-primary/take/1", "/purchase/1%2F..%2F..%2Fcatalog-primary%2Ftake%2F1",
            "/orders/../front/invalidate", "/orders/%2e%2e/front/invalidate", "//catalog-primary/take/1",
            "/orders//purchase/1", "/orders/purchase%2F1", "/%63atalog-primary/take/1", "/search/../order-1/replicate",
            "/info/1/../../front/invalidate", "/update/1/../../catalog-primary/update/1",
        ]
        let bodies: [String: String] = [
            "/front/invalidate": #"{"book":1,"seq":999999}"#,
            "/catalog-primary/update/1": #"{"price":1,"stock":0}"#,
            "/catalog-1/replicate": #"{"seq":1,"book":{"id":1,"title":"x","topic":"x","price":1.0,"stock":0,"version":1}}"#,
            "/order-1/replicate": #"{"seq":1,"order":{"number":1,"book_id":1,"title":"x","price":1.0,"created_at":"2026-01-01T00:00:00Z"}}"#,
        ]
        try await assertNothingChanges {
            for path in internalPaths {
                for method in ["GET", "POST", "PUT", "DELETE", "HEAD"] {
                    let body = bodies[path.components(separatedBy: "?")[0]] ?? #"{"price":1}"#
                    var arguments = ["-X", method, "-H", "Authorization: Bearer \(Stack.adminToken)",
                                     "-H", "Content-Type: application/json", "-H", "X-Bazar-Key: probe"]
                    if method == "HEAD" { arguments = ["-I"] + arguments.dropFirst(2) } else { arguments += ["--data-binary", body] }
                    let answer = try raw(arguments + ["BASE\(path)"])
                    XCTAssertTrue([400, 404, 405].contains(answer.status), "\(method) \(path): \(answer.status) \(answer.body)")
                    XCTAssertEqual(answer.contentType, "application/json; charset=utf-8", "\(method) \(path)")
                    if method != "HEAD" {
                        XCTAssertTrue(["bad_request", "not_found", "method_not_allowed"].contains(answer.json["error"]["code"].string ?? ""),
                                      "\(method) \(path): \(answer.body)")
                    }
                }
            }
        }
    }

    /// `/orders/…` is public for `GET /orders/{n}`, but `/orders/purchase/1` must not buy anything.
    func testOrdersPurchasePathIsNotAPurchase() async throws {
        try await assertNothingChanges {
            for method in ["GET", "POST", "PUT"] {
                let answer = try raw(["-X", method, "BASE/orders/purchase/1"])
                XCTAssertTrue([400, 404, 405].contains(answer.status), "\(method): \(answer.status)")
                XCTAssertNil(answer.json["order"]["number"].int, "\(method) bought something: \(answer.body)")
            }
            let bad = try await client.get("/orders/purchase")
            XCTAssertEqual(bad.status, 400, "a non-numeric order number")
            XCTAssertEqual(bad.errorCode, "bad_request")
        }
    }

    /// bazarctl's run directory keeps the FastCGI sockets and the internal listener away from
    /// everyone but the stack: as root, run/ is root's, sticky, entered only by the stack's
    /// group (BAZAR_USER, default bazar: the tiers and nginx's workers); the data directory and
    /// the admin token are the stack user's alone, the logs root's.
    func testStateDirectoryAndSocketModes() throws {
        let stack = try stack
        let isRoot = getuid() == 0
        let userName = ProcessInfo.processInfo.environment["BAZAR_USER"] ?? "bazar"
        let user: (uid: uid_t, gid: gid_t) = if isRoot, let entry = getpwnam(userName) {
            (entry.pointee.pw_uid, entry.pointee.pw_gid)
        } else {
            (getuid(), getgid())
        }
        if isRoot { XCTAssertNotNil(getpwnam(userName), "bazarctl creates the user \(userName)") }
        let run = stack.variables.appendingPathComponent("run").path
        let runInfo = try fileInfo(run)
        XCTAssertEqual(runInfo.mode & 0o007, 0, "others must not reach \(run)")
        XCTAssertEqual(runInfo.mode, isRoot ? 0o1770 : 0o700)
        XCTAssertEqual(runInfo.uid, getuid(), "root's: the stack's user cannot replace root's files there")
        if isRoot { XCTAssertEqual(runInfo.gid, user.gid, "the run dir's group is the stack's") }

        for name in ["front", "front-invalidate", "catalog-1", "catalog-2", "order-1", "order-2"] {
            let socket = "\(run)/\(name).sock"
            let info = try fileInfo(socket)
            XCTAssertEqual(info.mode & 0o170000, 0o140000, "\(socket) is a socket")
            XCTAssertEqual(info.mode & 0o7777, isRoot ? 0o660 : 0o600, socket)
            XCTAssertEqual(info.uid, user.uid, socket)
            if isRoot { XCTAssertEqual(info.gid, user.gid, socket) }
        }
        let data = try fileInfo(stack.variables.appendingPathComponent("data").path)
        XCTAssertEqual(data.mode, 0o700, "the databases are the stack user's alone")
        XCTAssertEqual(data.uid, user.uid)
        let log = try fileInfo(stack.variables.appendingPathComponent("log").path)
        XCTAssertEqual(log.mode, 0o700, "the logs are root's (the invoking user's) alone")
        XCTAssertEqual(log.uid, getuid())
        for directory in ["", "nginx"] {
            let info = try fileInfo(stack.variables.appendingPathComponent(directory).path)
            XCTAssertEqual(info.mode & 0o007, 0, "others must not enter \(directory.isEmpty ? "$BAZAR_VAR" : directory)")
            XCTAssertEqual(info.uid, getuid(), "\(directory) stays root's")
        }
        let token = try fileInfo(stack.variables.appendingPathComponent("admin.token").path)
        XCTAssertEqual(token.mode, 0o600, "admin.token is mode 0600")
        XCTAssertEqual(token.uid, getuid(), "admin.token stays root's (the front gets it on a descriptor)")
        let secret = try fileInfo(stack.variables.appendingPathComponent("internal.secret").path)
        XCTAssertEqual(secret.mode, 0o600, "internal.secret is mode 0600")
        XCTAssertEqual(secret.uid, getuid(), "internal.secret stays root's (the tiers get it on a descriptor)")
        for name in ["nginx", "nginx-internal"] {
            let conf = try fileInfo(stack.variables.appendingPathComponent("nginx/\(name).conf").path)
            XCTAssertEqual(conf.mode, 0o600, "\(name).conf may hold the internal secret")
        }

        // As root, check it for real: neither daemon nor nobody:nogroup can even enter the run
        // directory, while the stack's user can.
        if isRoot, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
            for (uid, gid) in [("daemon", "daemon"), ("nobody", "nogroup")] {
                let (status, _) = try stack.run("/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(gid)", "--clear-groups",
                                                                     "/usr/bin/test", "-x", "\(run)/."])
                XCTAssertNotEqual(status, 0, "user \(uid) can enter \(run)")
            }
            let (asStack, _) = try stack.run("/usr/bin/setpriv", ["--reuid=\(userName)", "--regid=\(userName)", "--init-groups",
                                                                  "/usr/bin/test", "-x", "\(run)/."])
            XCTAssertEqual(asStack, 0, "the stack's user (\(userName)) cannot enter \(run)")
        }
    }

    // MARK: 2. Admin

    /// The front's (logfmt) line for a refused update of book 5.
    static let refusal = #"level=warn msg="refused a request without the admin token" request="PUT /update/5""#

    /// A refused update answers 401, changes nothing, and leaves a line in front.log that
    /// does not hold the offered token (nor the real one).
    func testRefusedUpdateIsLoggedWithoutTheToken() async throws {
        let stack = try stack
        let offered = "offered-\(UUID().uuidString)"
        try await assertNothingChanges {
            for header in ["Bearer \(offered)", "Bearer \(Stack.adminToken)x", "bearer \(Stack.adminToken)",
                           "Bearer  \(Stack.adminToken)", "Basic \(offered)", "Bearer", "Bearer \(offered)\(Stack.adminToken)"] {
                let answer = try await client.send("PUT", "/update/5", headers: ["Authorization": header],
                                                   body: Data(#"{"price": 1}"#.utf8))
                XCTAssertEqual(answer.status, 401, header)
                XCTAssertEqual(answer.errorCode, "unauthorized", header)
            }
            let none = try await client.send("PUT", "/update/5", body: Data(#"{"stock": 0}"#.utf8))
            XCTAssertEqual(none.status, 401)
        }
        let log = stack.variables.appendingPathComponent("log/front.log")
        var text = ""
        for _ in 0..<50 {
            text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if text.contains(Self.refusal) { break }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        XCTAssertTrue(text.contains(Self.refusal), "front.log has no refusal line:\n\(text.suffix(2000))")
        XCTAssertFalse(text.contains(offered), "front.log holds the offered token")
        for file in (try? FileManager.default.contentsOfDirectory(atPath: stack.variables.appendingPathComponent("log").path)) ?? [] {
            let content = (try? String(contentsOf: stack.variables.appendingPathComponent("log/\(file)"), encoding: .utf8)) ?? ""
            XCTAssertFalse(content.contains(offered), "\(file) holds an offered token")
            XCTAssertFalse(content.contains(Stack.adminToken), "\(file) holds the admin token")
        }
    }

    // MARK: 3. Input

    /// Authenticated update bodies at the edges of the number types: a 400 each, nothing
    /// changes, and the front survives (abs(Int64.min) once trapped and took it down).
    func testExtremeUpdateNumbersAreRefused() async throws {
        try await assertNothingChanges {
            for body in [#"{"stock_delta": -9223372036854775808}"#, #"{"stock": -9223372036854775808}"#,
                         #"{"stock_delta": 9223372036854775807}"#, #"{"stock": 9223372036854775808}"#,
                         #"{"stock": 1000000000001}"#, #"{"stock_delta": -1000000000001}"#, #"{"price": 1e308}"#,
                         #"{"price": 1e999}"#, #"{"price": -0.0}"#, #"{"price": 1e-999}"#,
                         #"{"stock": 1E2}"#, #"{"price": 12, "stock": 1, "stock_delta": 1}"#,
                         #"{"price": 5, "price": 6}"#, #"{"price": 5}  x"#, "{\"price\": 5\u{0}}",
                         #"{"price": "\u0000"}"#, #"{"\ud800": 1}"#, String(repeating: "[", count: 5000),
                         "{\"price\": 1, \"a\(String(repeating: "\\u00e9", count: 5000))\": 1}"] {
                let answer = try await client.update(4, body)
                XCTAssertEqual(answer.status, 400, body.prefix(80).description)
                XCTAssertEqual(answer.errorCode, "bad_request", body.prefix(80).description)
            }
        }
    }

    // MARK: Sizes and odd HTTP

    /// A 2 MiB body is refused by nginx with a JSON 413 on every route, token or not.
    func testTwoMiBBodyIs413() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bazar-2mib-\(UUID().uuidString)")
        var big = Data(#"{"price": 1, "pad": ""#.utf8)
        big.append(Data(repeating: UInt8(ascii: "a"), count: 2 * 1024 * 1024))
        big.append(Data(#""}"#.utf8))
        try big.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try await assertNothingChanges {
            for (method, path, auth) in [("PUT", "/update/1", true), ("PUT", "/update/1", false), ("POST", "/purchase/1", false),
                                         ("PUT", "/purchase/1", false), ("GET", "/info/1", false), ("POST", "/nowhere", false)] {
                var arguments = ["-X", method, "--data-binary", "@\(file.path)", "-H", "Content-Type: application/json"]
                if auth { arguments += ["-H", "Authorization: Bearer \(Stack.adminToken)"] }
                let answer = try raw(arguments + ["BASE\(path)"])
                XCTAssertEqual(answer.status, 413, "\(method) \(path) auth=\(auth)")
                XCTAssertEqual(answer.json["error"]["code"].string, "payload_too_large", "\(method) \(path)")
                XCTAssertEqual(answer.contentType, "application/json; charset=utf-8")
            }
            // The same through chunked transfer coding (no Content-Length to refuse up front): every
            // chunked body is refused, unread (ErrorLogFloodTests).
            let chunked = try raw(["-X", "PUT", "--data-binary", "@\(file.path)", "-H", "Transfer-Encoding: chunked",
                                   "-H", "Authorization: Bearer \(Stack.adminToken)", "BASE/update/1"])
            XCTAssertEqual(chunked.status, 400)
            XCTAssertEqual(chunked.json["error"]["message"].string, "A request body needs a Content-Length (chunked bodies are not accepted).")
        }
    }

    /// Huge or numerous headers and an over-long request line are a JSON 400.
    func testHugeHeadersAre400() async throws {
        try await assertNothingChanges {
            let huge = String(repeating: "a", count: 64 * 1024)
            for arguments in [["-H", "X-Huge: \(huge)"], ["-H", "Authorization: Bearer \(huge)", "-X", "PUT", "--data-binary", "{}"],
                              ["-H", "Idempotency-Key: \(huge)", "-X", "POST"], ["-H", "Cookie: \(String(repeating: "c", count: 9000))"]] {
                let path = arguments.contains("PUT") ? "/update/1" : arguments.contains("POST") ? "/purchase/1" : "/info/1"
                let answer = try raw(arguments + ["BASE\(path)"])
                XCTAssertEqual(answer.status, 400, "\(arguments.prefix(1)) \(path)")
                XCTAssertEqual(answer.json["error"]["code"].string, "bad_request")
                XCTAssertEqual(answer.contentType, "application/json; charset=utf-8")
            }
            var many: [String] = []
            for index in 0..<300 { many += ["-H", "X-Many-\(index): \(String(repeating: "m", count: 200))"] }
            let answer = try raw(many + ["BASE/info/1"])
            XCTAssertEqual(answer.status, 400)
            XCTAssertEqual(answer.json["error"]["code"].string, "bad_request")
            let longURI = try raw(["BASE/search/" + String(repeating: "s", count: 70_000)])
            XCTAssertEqual(longURI.status, 400)
            XCTAssertEqual(longURI.json["error"]["code"].string, "bad_request")
        }
    }

    /// Negative, non-numeric, duplicated or too-large Content-Length, conflicting framing,
    /// unknown transfer codings and HTTP versions: a JSON 4xx or a closed connection, never
    /// a 5xx, and a truncated body is never applied.
    func testOddFramingIsRefusedWithoutAChange() async throws {
        let port = try stack.port
        let auth = "Authorization: Bearer \(Stack.adminToken)\r\n"
        let update = "PUT /update/2 HTTP/1.1\r\nHost: bazar\r\n\(auth)Content-Type: application/json\r\n"
        let cases: [(String, String)] = [
            ("negative Content-Length", update + "Content-Length: -1\r\nConnection: close\r\n\r\n{}"),
            ("non-numeric Content-Length", update + "Content-Length: abc\r\nConnection: close\r\n\r\n{}"),
            ("hex Content-Length", update + "Content-Length: 0x10\r\nConnection: close\r\n\r\n{\"price\":3}"),
            ("two Content-Lengths", update + "Content-Length: 11\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{\"price\":3}"),
            ("Content-Length with a space", update + "Content-Length: 1 1\r\nConnection: close\r\n\r\n{\"price\":3}"),
            ("overflowing Content-Length", update + "Content-Length: 99999999999999999999999\r\nConnection: close\r\n\r\n{}"),
            ("Content-Length and chunked", update + "Content-Length: 11\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"),
            ("bad chunk size", update + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{\"price\":3}\r\n0\r\n\r\n"),
            ("unknown transfer coding", update + "Transfer-Encoding: gzip\r\nConnection: close\r\n\r\n{\"price\":3}"),
            ("chunked twice", update + "Transfer-Encoding: chunked, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"),
            ("HTTP/2.0 in plain text", "GET /info/1 HTTP/2.0\r\nHost: bazar\r\n\r\n"),
            ("HTTP/3.0", "GET /info/1 HTTP/3.0\r\nHost: bazar\r\n\r\n"),
            ("no Host in HTTP/1.1", "GET /info/1 HTTP/1.1\r\nConnection: close\r\n\r\n"),
            ("two Hosts", "GET /info/1 HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"),
            ("NUL in a header", "GET /info/1 HTTP/1.1\r\nHost: bazar\r\nX-Nul: a\u{0}b\r\nConnection: close\r\n\r\n"),
            ("control byte in the path", "GET /info/\u{1}1 HTTP/1.1\r\nHost: bazar\r\nConnection: close\r\n\r\n"),
            ("raw non-ASCII in the path", "GET /search/caf\u{E9} HTTP/1.1\r\nHost: bazar\r\nConnection: close\r\n\r\n"),
            ("%00 in the path", "GET /search/a%00b HTTP/1.1\r\nHost: bazar\r\nConnection: close\r\n\r\n"),
            ("TLS hello", "\u{16}\u{3}\u{1}\u{0}\u{A5}\u{1}\u{0}\u{0}\u{A1}\u{3}\u{3}" + String(repeating: "r", count: 32)),
            ("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            ("garbage", "\r\n\r\nhello world\r\n\r\n"),
        ]
        try await assertNothingChanges {
            for (name, request) in cases {
                let answer = try rawSocket(port: port, Array(request.utf8), timeout: 15)
                guard let status = answer.status else { continue }   // closed without a response: fine
                XCTAssertTrue((400..<500).contains(status), "\(name): \(status) \(answer.text.prefix(300))")
                XCTAssertEqual(answer.header("Content-Type"), "application/json; charset=utf-8", "\(name): \(answer.text.prefix(300))")
                XCTAssertNotNil(answer.json["error"]["code"].string, "\(name): \(answer.text.prefix(300))")
            }
            // A body shorter than its Content-Length: nginx waits for the rest (client_body_timeout)
            // and then drops the connection; the client here gives up first. Either way the
            // partial body is never applied.
            let short = update + "Content-Length: 100\r\n\r\n{\"price\":3}"
            let waited = try rawSocket(port: port, Array(short.utf8), timeout: 2, halfClose: false)
            if let status = waited.status { XCTAssertTrue((400..<500).contains(status), "short body: \(status)") }
            // Same, but the client closes its side: nginx sees the body end early.
            let closed = try rawSocket(port: port, Array(short.utf8), timeout: 15, halfClose: true)
            if let status = closed.status { XCTAssertTrue((400..<500).contains(status), "short body, closed: \(status)") }
            // The same through curl, with a short timeout.
            let viaCurl = try raw(["--max-time", "3", "-X", "PUT", "-H", "Content-Length: 100", "-H", auth.trimmingCharacters(in: .whitespacesAndNewlines),
                                   "--data-binary", #"{"price":3}"#, "BASE/update/2"])
            XCTAssertTrue(viaCurl.status == 0 || (400..<500).contains(viaCurl.status), "curl short body: \(viaCurl.status)")
        }
    }

    // MARK: nginx's own answers

    /// nginx's own answers are JSON and name no version.
    func testNginxAnswersAreJSONWithoutAVersion() async throws {
        try await assertNothingChanges {
            for path in ["/health", "/info/1", "/nowhere", "/info/x"] {
                let answer = try await client.get(path)
                XCTAssertEqual(answer.header("Server"), "nginx", "Server header of \(path)")
            }
            let trace = try raw(["-X", "TRACE", "-D", "-", "BASE/info/1"])
            XCTAssertEqual(trace.status, 405)
            XCTAssertEqual(trace.json["error"]["code"].string, "method_not_allowed")
            XCTAssertEqual(trace.contentType, "application/json; charset=utf-8")
            let options = try await client.send("OPTIONS", "/purchase/1")
            XCTAssertEqual(options.status, 405)
            XCTAssertEqual(options.header("Allow"), "POST, PUT")
            XCTAssertEqual(options.header("Server"), "nginx")
            let port = try stack.port
            let bad = try rawSocket(port: port, Array("GET /info/1 HTTP/9.9\r\nHost: x\r\n\r\n".utf8), timeout: 5)
            XCTAssertEqual(bad.header("Server"), "nginx", bad.text)
            XCTAssertFalse(bad.text.contains("<html"), "an HTML error page: \(bad.text)")
        }
    }

    // MARK: - Helpers

    /// What must not change: every book, the order list, every replica's applied number and
    /// the cache's invalidation count; `/health` must answer 200 afterwards.
    private func snapshot() async throws -> [String: JSONValue] {
        var state: [String: JSONValue] = [:]
        for id in 1...7 { state["book \(id)"] = try await client.get("/info/\(id)").json }
        state["orders"] = try await client.get("/orders").json
        let health = try await stack.waitUntilLevel()
        state["applied"] = .array(health["replicas"].array.map { $0["applied"] })
        state["invalidations"] = try await client.get("/stats").json["cache"]["invalidations"]
        return state
    }

    private func assertNothingChanges(_ body: () async throws -> Void, file: StaticString = #filePath, line: UInt = #line) async throws {
        let before = try await snapshot()
        try await body()
        let health = try await client.get("/health")
        XCTAssertEqual(health.status, 200, "/health after the probes: \(health.json)", file: file, line: line)
        let after = try await snapshot()
        for key in before.keys.sorted() {
            XCTAssertEqual(after[key], before[key], "\(key) changed", file: file, line: line)
        }
    }

    /// An answer read by curl or from a raw socket.
    struct RawAnswer {
        /// The status, 0 when there was no response.
        let status: Int
        let contentType: String
        let body: String
        var json: JSONValue {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8), options: [.fragmentsAllowed])).map(JSONValue.init) ?? .null
        }
    }

    /// curl with raw arguments (BASE is the public base URL).
    private func raw(_ arguments: [String]) throws -> RawAnswer {
        let stack = try stack
        let marker = "\n--bazar-curl-\(UUID().uuidString)--\n"
        let (_, output) = try stack.run("/usr/bin/curl", ["-s", "-g", "--path-as-is", "-o", "-", "--max-time", "30",
                                                          "-w", "\(marker)%{http_code}\n%{content_type}"]
            + arguments.map { $0.replacingOccurrences(of: "BASE", with: stack.client.base) })
        guard let range = output.range(of: marker, options: .backwards) else { return RawAnswer(status: 0, contentType: "", body: output) }
        let tail = output[range.upperBound...].split(separator: "\n", omittingEmptySubsequences: false)
        var body = String(output[..<range.lowerBound])
        if arguments.contains("-D") || arguments.contains("-I"), let split = body.range(of: "\r\n\r\n", options: .backwards) {
            body = String(body[split.upperBound...])
        }
        return RawAnswer(status: Int(tail.first ?? "") ?? 0, contentType: tail.count > 1 ? String(tail[1]) : "", body: body)
    }

    /// A response read from a raw TCP connection.
    struct SocketAnswer {
        let text: String
        var status: Int? {
            guard text.hasPrefix("HTTP/"), let code = text.split(separator: " ").dropFirst().first else { return nil }
            return Int(code)
        }
        func header(_ name: String) -> String? {
            let head = text.components(separatedBy: "\r\n\r\n").first ?? ""
            for line in head.components(separatedBy: "\r\n").dropFirst() {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
        var json: JSONValue {
            guard let range = text.range(of: "\r\n\r\n") else { return .null }
            return (try? JSONSerialization.jsonObject(with: Data(text[range.upperBound...].utf8), options: [.fragmentsAllowed]))
                .map(JSONValue.init) ?? .null
        }
    }

    /// Sends `bytes` on a fresh connection to the public port and reads until the server
    /// closes it or `timeout` seconds pass. `halfClose` shuts the sending side after writing.
    private func rawSocket(port: Int, _ bytes: [UInt8], timeout: Int, halfClose: Bool = false) throws -> SocketAnswer {
        let fd = try loopbackConnection(port: port, timeout: 1)
        defer { close(fd) }
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { break }
            sent += count
        }
        if halfClose { shutdown(fd, Int32(SHUT_WR)) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(TimeInterval(timeout))
        while Date() < deadline {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += buffer[..<count]
            } else if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                break   // closed (or reset) by the server
            }
        }
        return SocketAnswer(text: String(decoding: received, as: UTF8.self))
    }

    private func fileInfo(_ path: String) throws -> (mode: UInt32, uid: uid_t, gid: gid_t) {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw StackError.startFailed("cannot stat \(path)") }
        let isSocket = info.st_mode & S_IFMT == S_IFSOCK
        return (isSocket ? UInt32(info.st_mode) : UInt32(info.st_mode & 0o7777), info.st_uid, info.st_gid)
    }

    private func groupID(_ name: String) throws -> gid_t {
        guard let group = getgrnam(name) else { throw StackError.startFailed("no group \(name)") }
        return group.pointee.gr_gid
    }
}
