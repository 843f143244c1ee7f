@testable import BazarCore
import Foundation
import Glibc
import HTTPMessages
@testable import InternalHTTP
import XCTest

// MARK: - A tiny real HTTP server on a unix socket (shared with CatalogTests and ResponseCacheTests)

/// One request as the test server read it.
struct TestHTTPRequest: Sendable {
    var method: String
    var path: String
    /// Lower-cased names.
    var headers: [String: String]
    var body: [UInt8]
    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// One accepted connection of the test server.
final class TestConnection: @unchecked Sendable {
    let fd: Int32
    let index: Int
    private var buffer: [UInt8] = []
    private weak var server: TestHTTPServer?

    init(fd: Int32, index: Int, server: TestHTTPServer) {
        self.fd = fd
        self.index = index
        self.server = server
    }

    /// The next request on the connection; nil at end of stream.
    func readRequest() -> TestHTTPRequest? {
        while true {
            if let end = headEnd() {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n")
                let requestLine = lines.removeFirst().split(separator: " ")
                var headers: [String: String] = [:]
                for line in lines {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                let length = Int(headers["content-length"] ?? "0") ?? 0
                while buffer.count < end + 4 + length {
                    guard receive() else { return nil }
                }
                let body = Array(buffer[(end + 4)..<(end + 4 + length)])
                buffer.removeFirst(end + 4 + length)
                let request = TestHTTPRequest(method: requestLine.first.map(String.init) ?? "",
                                              path: requestLine.count > 1 ? String(requestLine[1]) : "",
                                              headers: headers, body: body)
                server?.record(request)
                return request
            }
            guard receive() else { return nil }
        }
    }

    /// Blocks until the peer closes the connection (or the server stops).
    func waitForClose() {
        while receive() {}
    }

    /// Blocks until bytes (or the end of stream) can be read, without reading them.
    func waitReadable() {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&entry, 1, 5_000)
    }

    func write(_ text: String) { write(Array(text.utf8)) }

    func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }

    /// Writes an answer with a Content-Length.
    func answer(_ status: Int, _ body: String, headers: [(String, String)] = []) {
        var head = "HTTP/1.1 \(status) X\r\nContent-Length: \(body.utf8.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        write(head + "\r\n" + body)
    }

    func close() {
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    private func headEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }

    private func receive() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard got > 0 else { return false }
        buffer += chunk[..<got]
        return true
    }
}

/// A real HTTP/1.1 server on a unix socket: every accepted connection runs `handler` on its own thread.
final class TestHTTPServer: @unchecked Sendable {
    let path: String
    private let listenFD: Int32
    private let handler: @Sendable (TestConnection) -> Void
    private let lock = NSLock()
    private var acceptedCount = 0
    private var openFDs: Set<Int32> = []
    private var requestLog: [TestHTTPRequest] = []
    private var stopped = false
    private let finished = DispatchGroup()

    init(path: String, handler: @escaping @Sendable (TestConnection) -> Void) throws {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        let bound = TestSupport.withUnixAddress(path) { bind(fd, $0, $1) }
        guard bound == 0, listen(fd, 64) == 0 else {
            Glibc.close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        self.path = path
        self.handler = handler
        listenFD = fd
        finished.enter()
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// A server on `127.0.0.1` at a port the kernel picks (`path` is then `127.0.0.1:PORT`).
    init(loopback handler: @escaping @Sendable (TestConnection) -> Void) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listen(fd, 64) == 0 else {
            Glibc.close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        self.path = "127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
        self.handler = handler
        listenFD = fd
        finished.enter()
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// A server whose every connection answers each request with `respond` until the client closes.
    convenience init(path: String, respond: @escaping @Sendable (TestHTTPRequest) -> (Int, String, [(String, String)])) throws {
        try self.init(path: path) { connection in
            while let request = connection.readRequest() {
                let (status, body, headers) = respond(request)
                connection.answer(status, body, headers: headers)
            }
        }
    }

    /// Connections accepted so far.
    var accepted: Int { lock.withLock { acceptedCount } }
    /// Requests read so far, in order.
    var requests: [TestHTTPRequest] { lock.withLock { requestLog } }

    func record(_ request: TestHTTPRequest) {
        lock.withLock { requestLog.append(request) }
    }

    /// Stops accepting, ends every connection and waits for the handler threads.
    func stop() {
        let fds = lock.withLock { () -> Set<Int32> in
            stopped = true
            return openFDs
        }
        Glibc.shutdown(listenFD, Int32(SHUT_RDWR))
        for fd in fds { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        _ = finished.wait(timeout: .now() + 5)
        Glibc.close(listenFD)
        if path.hasPrefix("/") { unlink(path) }
    }

    deinit {
        if !lock.withLock({ stopped }) { stop() }
    }

    private func acceptLoop() {
        defer { finished.leave() }
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            let index = lock.withLock { () -> Int? in
                guard !stopped else { return nil }
                acceptedCount += 1
                openFDs.insert(fd)
                return acceptedCount
            }
            guard let index else { Glibc.close(fd); return }
            let connection = TestConnection(fd: fd, index: index, server: self)
            finished.enter()
            Thread.detachNewThread { [self] in
                handler(connection)
                lock.withLock { _ = openFDs.remove(fd) }
                Glibc.close(fd)
                finished.leave()
            }
        }
    }
}

// MARK: - InternalClient

final class InternalClientTests: XCTestCase {
    private var directory: URL!
    private var socketPath: String { directory.appendingPathComponent("s.sock").path }

    override func setUpWithError() throws {
        directory = try TestSupport.makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func callError(_ body: () throws(InternalCallError) -> InternalResponse) -> InternalCallError? {
        TestSupport.callError(body)
    }

    func testContentLengthAnswer() throws {
        let server = try TestHTTPServer(path: socketPath) { _ in
            (201, "hello", [("X-Upstream", "catalog-1"), ("X-Bazar-Seq", " 41 ")])
        }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        let response = try client.send("POST", "/catalog-primary/take/3", headers: [("X-Bazar-Key", "k1")],
                                       body: Array("{\"a\":1}".utf8))
        XCTAssertEqual(response.status, 201)
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), "hello")
        XCTAssertEqual(response.header("x-upstream"), "catalog-1")
        XCTAssertEqual(response.header("x-bazar-seq"), "41")
        XCTAssertEqual(response.header("content-length"), "5")
        let request = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.path, "/catalog-primary/take/3")
        XCTAssertEqual(request.headers["x-bazar-key"], "k1")
        XCTAssertEqual(request.headers["content-length"], "7")
        XCTAssertNotNil(request.headers["host"])
        XCTAssertEqual(request.bodyText, "{\"a\":1}")
    }

    func testEmptyAndLargeContentLengthBodies() throws {
        let large = String(repeating: "0123456789abcdef", count: 12_500)   // 200 000 bytes, many reads
        let server = try TestHTTPServer(path: socketPath) { request in
            request.path == "/large" ? (200, large, []) : (200, "", [])
        }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        XCTAssertEqual(try client.send("GET", "/empty").body, [])
        XCTAssertEqual(try client.send("GET", "/large").body, Array(large.utf8))
        XCTAssertEqual(try client.send("GET", "/empty").status, 200)
        XCTAssertEqual(server.accepted, 1)
    }

    func testChunkedAnswerArrivingInPieces() throws {
        let server = try TestHTTPServer(path: socketPath) { connection in
            while connection.readRequest() != nil {
                let pieces = ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Upstream: order-2\r\n\r\n",
                              "5\r\nhel", "lo\r\n", "7;ext=1\r\n, world\r\n", "A\r\n0123456789\r\n", "0\r\n", "\r\n"]
                for piece in pieces {
                    connection.write(piece)
                    usleep(2_000)
                }
            }
        }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        let response = try client.send("GET", "/x")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), "hello, world0123456789")
        XCTAssertEqual(response.header("x-upstream"), "order-2")
        // The chunked answer left the connection usable.
        XCTAssertEqual(String(decoding: try client.send("GET", "/y").body, as: UTF8.self), "hello, world0123456789")
        XCTAssertEqual(server.accepted, 1)
    }

    func testKeepAliveReusesOneConnection() throws {
        let server = try TestHTTPServer(path: socketPath) { request in (200, "answer to \(request.path)", []) }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        XCTAssertEqual(String(decoding: try client.send("GET", "/one").body, as: UTF8.self), "answer to /one")
        XCTAssertEqual(String(decoding: try client.send("GET", "/two").body, as: UTF8.self), "answer to /two")
        XCTAssertEqual(server.accepted, 1)
        XCTAssertEqual(server.requests.map(\.path), ["/one", "/two"])
    }

    func testConnectionCloseAnswerIsNotReused() throws {
        let server = try TestHTTPServer(path: socketPath) { request in (200, request.path, [("Connection", "close")]) }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        XCTAssertEqual(String(decoding: try client.send("GET", "/a").body, as: UTF8.self), "/a")
        XCTAssertEqual(String(decoding: try client.send("GET", "/b").body, as: UTF8.self), "/b")
        XCTAssertEqual(server.accepted, 2)
    }

    func testAnswerWithoutLengthIsReadToCloseAndNotReused() throws {
        let server = try TestHTTPServer(path: socketPath) { connection in
            guard let request = connection.readRequest() else { return }
            connection.write("HTTP/1.1 200 OK\r\nX-Path: \(request.path)\r\n\r\nuntil the end")
            connection.close()
        }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        let first = try client.send("GET", "/a")
        XCTAssertEqual(String(decoding: first.body, as: UTF8.self), "until the end")
        XCTAssertEqual(first.header("x-path"), "/a")
        XCTAssertEqual(try client.send("GET", "/b").header("x-path"), "/b")
        XCTAssertEqual(server.accepted, 2)
    }

    func testKeptConnectionClosedWhileIdleIsRetriedOnANewOne() throws {
        let closed = DispatchSemaphore(value: 0)
        let server = try TestHTTPServer(path: socketPath) { connection in
            guard let request = connection.readRequest() else { return }
            connection.answer(200, "conn \(connection.index) \(request.path)")
            if connection.index == 1 {
                connection.close()   // an idle keep-alive connection the server gives up on
                closed.signal()
                return
            }
            while let request = connection.readRequest() { connection.answer(200, "conn \(connection.index) \(request.path)") }
        }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        XCTAssertEqual(String(decoding: try client.send("GET", "/a").body, as: UTF8.self), "conn 1 /a")
        XCTAssertEqual(closed.wait(timeout: .now() + 5), .success)
        usleep(10_000)
        XCTAssertEqual(String(decoding: try client.send("POST", "/b").body, as: UTF8.self), "conn 2 /b")
        XCTAssertEqual(server.accepted, 2)
    }

    func testKeptConnectionClosedAfterReadingTheRequestIsRetried() throws {
        let server = try TestHTTPServer(path: socketPath) { connection in
            guard let request = connection.readRequest() else { return }
            connection.answer(200, "conn \(connection.index) \(request.path)")
            if connection.index == 1 {
                _ = connection.readRequest()   // reads the next request, then drops the connection unanswered
                return
            }
            while let request = connection.readRequest() { connection.answer(200, "conn \(connection.index) \(request.path)") }
        }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        XCTAssertEqual(String(decoding: try client.send("GET", "/a").body, as: UTF8.self), "conn 1 /a")
        XCTAssertEqual(String(decoding: try client.send("GET", "/b").body, as: UTF8.self), "conn 2 /b")
        XCTAssertEqual(server.accepted, 2)
        XCTAssertEqual(server.requests.map(\.path), ["/a", "/b", "/b"])
    }

    func testKeptConnectionClosedWithTheRequestUnreadIsRetried() throws {
        let server = try TestHTTPServer(path: socketPath) { connection in
            guard let request = connection.readRequest() else { return }
            connection.answer(200, "conn \(connection.index) \(request.path)")
            if connection.index == 1 {
                connection.waitReadable()   // the next request arrived: close without reading it
                return
            }
            while let request = connection.readRequest() { connection.answer(200, "conn \(connection.index) \(request.path)") }
        }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        XCTAssertEqual(String(decoding: try client.send("GET", "/a").body, as: UTF8.self), "conn 1 /a")
        XCTAssertEqual(String(decoding: try client.send("GET", "/b").body, as: UTF8.self), "conn 2 /b")
        XCTAssertEqual(server.accepted, 2)
    }

    func testUnreachablePath() {
        let client = InternalClient(.unix(path: directory.appendingPathComponent("nobody.sock").path), secret: "test-secret")
        XCTAssertEqual(callError { () throws(InternalCallError) in try client.send("GET", "/x") }, .unreachable)
    }

    func testPathThatIsNotASocketIsUnreachable() throws {
        let file = directory.appendingPathComponent("plain").path
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        let client = InternalClient(.unix(path: file), secret: "test-secret")
        XCTAssertEqual(callError { () throws(InternalCallError) in try client.send("GET", "/x") }, .unreachable)
    }

    func testOverlongSocketPathIsUnreachable() {
        let client = InternalClient(.unix(path: "/tmp/" + String(repeating: "p", count: 200)), secret: "test-secret")
        XCTAssertEqual(callError { () throws(InternalCallError) in try client.send("GET", "/x") }, .unreachable)
    }

    func testNewConnectionClosedWithoutAnswerIsNoAnswer() throws {
        let server = try TestHTTPServer(path: socketPath) { connection in _ = connection.readRequest() }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        let error = callError { () throws(InternalCallError) in try client.send("GET", "/x") }
        XCTAssertEqual(error, .noAnswer)
        XCTAssertEqual(error?.surelyNotApplied, false, "the server read the request: it may have acted on it")
        XCTAssertEqual(server.accepted, 1)   // not retried: a fresh connection that fails is final
    }

    func testUnsafeRequestDroppedOnAKeptConnectionIsNotResent() throws {
        let server = try TestHTTPServer(path: socketPath) { connection in
            guard let request = connection.readRequest() else { return }
            connection.answer(200, "conn \(connection.index) \(request.path)")
            if connection.index == 1 {
                _ = connection.readRequest()   // reads the POST, then dies before answering
                return
            }
            while let request = connection.readRequest() { connection.answer(200, "conn \(connection.index) \(request.path)") }
        }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        XCTAssertEqual(try client.send("GET", "/a").status, 200)
        XCTAssertEqual(callError { () throws(InternalCallError) in try client.send("POST", "/buy") }, .noAnswer)
        XCTAssertEqual(server.requests.map(\.path), ["/a", "/buy"], "a POST is never sent twice")
    }

    func testResendableRequestDroppedOnAKeptConnectionIsResent() throws {
        let server = try TestHTTPServer(path: socketPath) { connection in
            guard let request = connection.readRequest() else { return }
            connection.answer(200, "conn \(connection.index) \(request.path)")
            if connection.index == 1 {
                _ = connection.readRequest()
                return
            }
            while let request = connection.readRequest() { connection.answer(200, "conn \(connection.index) \(request.path)") }
        }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        XCTAssertEqual(try client.send("GET", "/a").status, 200)
        let answer = try client.send("POST", "/invalidate", resendable: true)
        XCTAssertEqual(String(decoding: answer.body, as: UTF8.self), "conn 2 /invalidate")
        XCTAssertEqual(server.requests.map(\.path), ["/a", "/invalidate", "/invalidate"])
    }

    func testHeadersAreFoundWhateverTheirCase() throws {
        let server = try TestHTTPServer(path: socketPath) { _ in (200, "", [("X-Upstream", "order-1")]) }
        defer { server.stop() }
        let answer = try InternalClient(.unix(path: socketPath), secret: "test-secret").send("GET", "/x")
        for name in ["X-Upstream", "x-upstream", "X-UPSTREAM"] { XCTAssertEqual(answer.header(name), "order-1", name) }
        XCTAssertEqual(InternalResponse(status: 200, headers: ["Idempotent-Replayed": "true"], body: []).header("idempotent-replayed"),
                       "true")
    }

    func testServerThatNeverAnswersTimesOut() throws {
        let server = try TestHTTPServer(path: socketPath) { connection in
            _ = connection.readRequest()
            connection.waitForClose()
        }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        let start = Date()
        XCTAssertEqual(callError { () throws(InternalCallError) in try client.send("GET", "/x", timeout: .milliseconds(200)) },
                       .timeout)
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertGreaterThanOrEqual(elapsed, 0.15, "gave up before its deadline")
        // Only a generous bound: a call that never gave up would hang here (the server never
        // answers nor closes); how soon after its deadline it gives up is not a test's business.
        XCTAssertLessThan(elapsed, 60)
    }

    func testTimeoutOnAKeptConnectionIsNotRetried() throws {
        let server = try TestHTTPServer(path: socketPath) { connection in
            guard connection.readRequest() != nil else { return }
            connection.answer(200, "first")
            _ = connection.readRequest()
            connection.waitForClose()
        }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        XCTAssertEqual(try client.send("GET", "/a").status, 200)
        XCTAssertEqual(callError { () throws(InternalCallError) in try client.send("GET", "/b", timeout: .milliseconds(150)) },
                       .timeout)
        XCTAssertEqual(server.accepted, 1)
    }

    func testGarbageOrCutShortAnswerIsMalformed() throws {
        for answer in ["SMTP ready\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part"] {
            let server = try TestHTTPServer(path: socketPath) { connection in
                guard connection.readRequest() != nil else { return }
                connection.write(answer)
                connection.close()
            }
            defer { server.stop() }
            let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
            XCTAssertEqual(callError { () throws(InternalCallError) in try client.send("GET", "/x") }, .malformed, answer)
        }
    }

    func testConcurrentCallersEachGetTheirOwnAnswer() throws {
        let server = try TestHTTPServer(path: socketPath) { request in (200, request.path, []) }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret", poolLimit: 4)
        let wrong = LockedBox(0)
        DispatchQueue.concurrentPerform(iterations: 16) { worker in
            for round in 0..<20 {
                let path = "/w\(worker)/r\(round)"
                let body = (try? client.send("GET", path)).map { String(decoding: $0.body, as: UTF8.self) }
                if body != path { wrong.withLock { $0 += 1 } }
            }
        }
        XCTAssertEqual(wrong.withLock { $0 }, 0)
        XCTAssertEqual(server.requests.count, 16 * 20)
    }
}
