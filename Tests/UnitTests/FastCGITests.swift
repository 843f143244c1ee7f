import Basics
import BazarCore
@testable import FastCGI
import Foundation
import Glibc
import HTTPMessages
import InternalHTTP
import XCTest

// MARK: - Shared test support (used by several files of this target)

enum TestSupport {
    /// An internal path after its first segment, the tier it is addressed to:
    /// `/catalog-primary/take/2` and `/catalog-1/take/2` are both `/take/2`.
    static func route(_ path: String) -> String {
        String(path.dropFirst().drop { $0 != "/" })
    }

    /// The error an internal call threw, or nil (and a failure) when it answered.
    static func callError(_ body: () throws(InternalCallError) -> InternalResponse,
                          file: StaticString = #filePath, line: UInt = #line) -> InternalCallError? {
        do {
            let response = try body()
            XCTFail("expected an error, got status \(response.status)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    /// The repository root: this file is `<root>/Tests/UnitTests/FastCGITests.swift`.
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A product built by `swift build` (the Makefile builds before it tests).
    static func product(_ name: String) -> URL {
        repoRoot.appendingPathComponent(".build/debug/\(name)")
    }

    /// A fresh directory with a short path (unix socket paths must fit in 108 bytes).
    static func makeTemporaryDirectory() throws -> URL {
        var template = Array("/tmp/bzu-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw POSIXError(.EIO)
        }
        return URL(fileURLWithPath: String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// The internal secret the unit tests' responders are started with.
    static let internalSecret = "unit-test-internal-secret"

    /// A file holding `internalSecret` in `directory`, for `--internal-secret-file`.
    static func secretFile(in directory: URL) throws -> String {
        let file = directory.appendingPathComponent("internal.secret")
        try Data((internalSecret + "\n").utf8).write(to: file)
        return file.path
    }

    /// An executable found in the usual places, or nil.
    static func tool(_ name: String) -> String? {
        ["/usr/bin", "/usr/local/bin", "/bin"].map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    static func freeLoopbackPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return UInt16(bigEndian: address.sin_port)
    }

    /// Whether something listens on 127.0.0.1:`port`.
    static func canConnect(loopbackPort port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return address
    }

    /// Whether a unix socket at `path` accepts connections.
    static func canConnect(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return withUnixAddress(path) { connect(fd, $0, $1) } == 0
    }

    /// Calls `body` (bind, connect) with the `sockaddr_un` of a unix socket path.
    static func withUnixAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Polls `condition` every 5 ms until it holds or `seconds` pass.
    static func waitFor(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(5_000)
        }
        return condition()
    }
}

/// The parsed stdout of one `cgi-fcgi` call: a FastCGI responder's `Status:` header block and body.
struct CGIAnswer {
    var raw: [UInt8]
    var statusLine: String
    var headers: [(String, String)]
    var body: [UInt8]

    /// The numeric status of `Status: 200 OK`, 0 when there was no answer.
    var status: Int {
        guard statusLine.hasPrefix("Status: ") else { return 0 }
        return Int(statusLine.dropFirst(8).prefix(3)) ?? 0
    }

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSON? { try? JSON.parse(body) }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    init(raw: [UInt8]) {
        self.raw = raw
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        if raw.count >= 4 {
            for index in 0...(raw.count - 4) where Array(raw[index..<(index + 4)]) == separator {
                headEnd = index
                break
            }
        }
        guard let headEnd else {
            statusLine = ""
            headers = []
            body = []
            return
        }
        let lines = String(decoding: raw[..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
        statusLine = lines.first ?? ""
        headers = lines.dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        body = Array(raw[(headEnd + 4)...])
    }
}

/// Sends one request to a FastCGI responder's unix socket with libfcgi's `cgi-fcgi` tool, as nginx would.
/// An internal request carries `secret` (the responder's, unless a test says otherwise).
func cgiFCGI(socket: String, method: String, uri: String, internal isInternal: Bool = true,
             secret: String? = TestSupport.internalSecret,
             headers: [String: String] = [:], contentLength: Int? = nil, body: [UInt8] = []) throws -> CGIAnswer {
    guard let cgi = TestSupport.tool("cgi-fcgi") else {
        throw TestSupportError.missingTool("cgi-fcgi (libfcgi-bin: make deps installs it)")
    }
    var environment = ["REQUEST_METHOD": method, "REQUEST_URI": uri, "SCRIPT_NAME": "",
                       "QUERY_STRING": uri.firstIndex(of: "?").map { String(uri[uri.index(after: $0)...]) } ?? "",
                       "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1"]
    if isInternal {
        environment["BAZAR_LISTENER"] = "internal"
        environment["BAZAR_SECRET"] = secret
    }
    if let length = contentLength ?? (body.isEmpty ? nil : body.count) {
        environment["CONTENT_LENGTH"] = "\(length)"
        environment["CONTENT_TYPE"] = "application/json"
    }
    for (name, value) in headers {
        environment["HTTP_" + name.uppercased().replacingOccurrences(of: "-", with: "_")] = value
    }
    let process = Process()
    // `timeout` bounds a call to a responder that never answers (or died mid-request): a
    // generous 60 s, a bound on a hang, not a speed.
    process.executableURL = URL(fileURLWithPath: TestSupport.tool("timeout") ?? "/usr/bin/timeout")
    process.arguments = ["60", cgi, "-bind", "-connect", socket]
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    let input = Pipe()
    process.standardInput = body.isEmpty ? FileHandle.nullDevice : input
    try process.run()
    if !body.isEmpty {
        // cgi-fcgi may exit before taking the whole body (the responder refused or ignored it):
        // the write then fails with EPIPE rather than killing the test process.
        signal(SIGPIPE, SIG_IGN)
        let writer = input.fileHandleForWriting
        let data = Data(body)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            try? writer.write(contentsOf: data)
            try? writer.close()
            done.signal()
        }
        _ = done.wait(timeout: .now() + 5)
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CGIAnswer(raw: Array(data))
}

/// A FastCGI connection kept open across requests (`FCGI_KEEP_CONN`), as nginx keeps one.
final class KeptFastCGIConnection {
    private let fd: Int32

    /// Connects to the responder's unix socket.
    init(socket path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0, TestSupport.withUnixAddress(path, { connect(fd, $0, $1) }) == 0 else {
            if fd >= 0 { close(fd) }
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { close(fd) }

    /// Sends an internal GET of `uri` and reads the answer: false once the responder has closed
    /// the connection instead of answering.
    func get(_ uri: String) -> Bool {
        var params: [UInt8] = []
        for (name, value) in ["REQUEST_METHOD": "GET", "REQUEST_URI": uri, "BAZAR_LISTENER": "internal",
                                   "BAZAR_SECRET": TestSupport.internalSecret] {
            params += [UInt8(name.utf8.count), UInt8(value.utf8.count)] + Array(name.utf8) + Array(value.utf8)
        }
        // BEGIN_REQUEST (responder, keep the connection), the parameters, no body.
        let request = record(1, [0, 1, 1, 0, 0, 0, 0, 0]) + record(4, params) + record(4, []) + record(5, [])
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            return false
        }
        while let header = read(8) {
            let length = Int(header[4]) << 8 | Int(header[5])
            guard read(length + Int(header[6])) != nil else { return false }
            if header[1] == 3 { return true }   // END_REQUEST
        }
        return false
    }

    private func record(_ type: UInt8, _ content: [UInt8]) -> [UInt8] {
        [1, type, 0, 1, UInt8(content.count >> 8), UInt8(content.count & 0xFF), 0, 0] + content
    }

    private func read(_ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + done, count - done, 0) }
            guard got > 0 else { return nil }
            done += got
        }
        return bytes
    }
}

/// A real `bazar-catalog` responder listening on a socket in a temporary directory.
final class CatalogProcess: @unchecked Sendable {
    let process = Process()
    let directory: URL
    let socket: String
    let log: URL

    /// A responder on a unix socket in `directory`, or with `tcpPort` on `127.0.0.1:PORT`, which
    /// only the addresses in `allowedAddresses` (libfcgi's `FCGI_WEB_SERVER_ADDRS`) may use.
    init(directory: URL, name: String = "catalog-1", role: String = "primary", tcpPort: UInt16? = nil,
         allowedAddresses: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        self.directory = directory
        socket = tcpPort.map { "127.0.0.1:\($0)" } ?? directory.appendingPathComponent("c.sock").path
        log = directory.appendingPathComponent("\(name).log")
        let binary = TestSupport.product("bazar-catalog")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            XCTFail("\(binary.path) is missing: run `swift build` before `swift test`", file: file, line: line)
            throw POSIXError(.ENOENT)
        }
        process.executableURL = binary
        process.arguments = ["--name", name, "--role", role, "--peer", "catalog-2",
                             "--db", directory.appendingPathComponent("c.db").path,
                             "--internal", directory.appendingPathComponent("none.sock").path,
                             "--internal-secret-file", try TestSupport.secretFile(in: directory),
                             "--socket", socket, "--threads", "4", "--witnesses", "none"]
        if let allowedAddresses {
            process.environment = ProcessInfo.processInfo.environment.merging(["FCGI_WEB_SERVER_ADDRS": allowedAddresses]) { $1 }
        }
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let listening = TestSupport.waitFor(seconds: 10) { [socket, process] in
            !process.isRunning || (tcpPort.map(TestSupport.canConnect(loopbackPort:)) ?? TestSupport.canConnect(socket))
        }
        guard listening, process.isRunning else {
            XCTFail("bazar-catalog did not start listening: \(logTail())", file: file, line: line)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    func request(_ method: String, _ uri: String, internal isInternal: Bool = true,
                 secret: String? = TestSupport.internalSecret, headers: [String: String] = [:],
                 contentLength: Int? = nil, body: [UInt8] = []) throws -> CGIAnswer {
        try cgiFCGI(socket: socket, method: method, uri: uri, internal: isInternal, secret: secret, headers: headers,
                    contentLength: contentLength, body: body)
    }

    /// The end of the responder's stderr, for failure messages.
    func logTail() -> String {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return String(text.suffix(1500))
    }

    /// The crash line and the first project frames of a crash report in the log, or its tail.
    func crashSummary() -> String {
        let lines = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").components(separatedBy: "\n")
        let crash = lines.filter { $0.contains("Program crashed") || $0.contains("Fatal error") }
        let frames = lines.filter { $0.contains(" at \(TestSupport.repoRoot.path)/Sources/") }.prefix(2)
            .map { $0.components(separatedBy: " in ").dropFirst().joined(separator: " in ") }
        let summary = (crash + frames).joined(separator: " | ")
        return summary.isEmpty ? logTail() : summary
    }

    /// Waits up to `seconds` for the process to end; true when it did.
    func waitForExit(seconds: Double) -> Bool {
        TestSupport.waitFor(seconds: seconds) { !process.isRunning }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

// MARK: - FastCGI

final class FastCGITests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try TestSupport.makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: Response.encoded()

    func testEncodedWritesStatusLineHeadersInOrderLengthAndBody() {
        let response = Response(status: 404, headers: [("Content-Type", "application/json"), ("X-Upstream", "catalog-1")],
                                body: Array("{}".utf8))
        XCTAssertEqual(text(response.encoded()),
                       "Status: 404 Not Found\r\nContent-Type: application/json\r\nX-Upstream: catalog-1\r\n"
                           + "Content-Length: 2\r\n\r\n{}")
    }

    func testEncodedEmptyBodyHasZeroContentLength() {
        XCTAssertEqual(text(Response(status: 204).encoded()), "Status: 204 No Content\r\nContent-Length: 0\r\n\r\n")
    }

    func testEncodedContentLengthCountsBytesNotCharacters() {
        let body = Array("\"€\"".utf8)   // 3 characters, 5 bytes
        let encoded = Response(status: 200, body: body).encoded()
        XCTAssertEqual(text(encoded), "Status: 200 OK\r\nContent-Length: 5\r\n\r\n\"€\"")
        XCTAssertEqual(Array(encoded.suffix(5)), body)
    }

    func testEncodedKeepsBinaryBodyBytes() {
        let body: [UInt8] = [0, 255, 13, 10, 13, 10, 1]
        let encoded = Response(status: 200, body: body).encoded()
        XCTAssertEqual(Array(encoded.suffix(body.count)), body)
        XCTAssertTrue(text(encoded).hasPrefix("Status: 200 OK\r\nContent-Length: 7\r\n\r\n"))
    }

    func testReasonPhrasesOfEveryStatusTheProjectUses() {
        let expected = [200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
                        404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large",
                        500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                        504: "Gateway Timeout"]
        for (status, reason) in expected {
            XCTAssertEqual(Response.reason(status), reason, "status \(status)")
            XCTAssertTrue(text(Response(status: status).encoded()).hasPrefix("Status: \(status) \(reason)\r\n"))
        }
        // Any other status still gets a non-empty phrase, so the status line stays well formed.
        XCTAssertFalse(Response.reason(418).isEmpty)
        XCTAssertTrue(text(Response(status: 418).encoded()).hasPrefix("Status: 418 "))
    }

    func testPreencodedPassesBytesThroughUnchanged() {
        let bytes = Response(status: 200, headers: [("X-Cache", "HIT")], body: Array("{\"id\":1}".utf8)).encoded()
        let cached = Response.preencoded(status: 200, bytes: bytes)
        XCTAssertEqual(cached.encoded(), bytes)
        XCTAssertEqual(cached.status, 200)
        // Even bytes that are not a valid header block are passed as they are.
        XCTAssertEqual(Response.preencoded(status: 503, bytes: [1, 2, 3]).encoded(), [1, 2, 3])
    }

    func testJSONResponseCarriesContentType() {
        let response = Response.json(200, .object([("a", .int(1))]), headers: [("X-Upstream", "order-1")])
        XCTAssertEqual(text(response.encoded()),
                       "Status: 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nX-Upstream: order-1\r\n"
                           + "Content-Length: 7\r\n\r\n{\"a\":1}")
    }

    // MARK: Request

    func testHeaderLookupByUsualName() {
        let request = Request(method: "PUT", path: "/update/1",
                              headers: ["Authorization": "Bearer t", "idempotency-key": "abc", "X-Bazar-Key": "k"])
        XCTAssertEqual(request.header("Authorization"), "Bearer t")
        XCTAssertEqual(request.header("authorization"), "Bearer t")
        XCTAssertEqual(request.header("Idempotency-Key"), "abc")
        XCTAssertEqual(request.header("IDEMPOTENCY-KEY"), "abc")
        XCTAssertEqual(request.header("X-Bazar-Key"), "k")
        XCTAssertNil(request.header("Idempotency"))
        XCTAssertNil(request.header("Content-Length"))
        XCTAssertEqual(request.cgiHeaders.first { $0.name == "HTTP_IDEMPOTENCY_KEY" }?.value, "abc")
    }

    func testHeaderLookupOfCGIHeadersAsLibFCGIPassesThem() {
        var request = Request(method: "GET", path: "/")
        request.cgiHeaders = [("HTTP_IDEMPOTENCY_KEY", "k-1"), ("HTTP_X_BAZAR_KEY", "client:k-1")]
        XCTAssertEqual(request.header("Idempotency-Key"), "k-1")
        XCTAssertEqual(request.header("X-Bazar-Key"), "client:k-1")
    }

    func testRequestDefaults() {
        let request = Request(method: "GET", path: "/info/1")
        XCTAssertEqual(request.query, "")
        XCTAssertEqual(request.body, [])
        XCTAssertFalse(request.bodyTooLarge)
        XCTAssertFalse(request.isInternal)
        XCTAssertTrue(request.cgiHeaders.isEmpty)
    }

    func testServerOptionsDefaultsAndClamping() {
        let options = FastCGI.ServerOptions(threads: 64, internalSecret: "s")
        XCTAssertEqual(options.listeners.map(\.threads), [64])
        XCTAssertEqual(options.maxBody, 64 * 1024)
        guard case .inherited = options.listeners.first?.listen else { return XCTFail("default listen should be fd 0") }
        XCTAssertEqual(ServerOptions(threads: 0, internalSecret: "s").listeners.map(\.threads), [1])
        XCTAssertEqual(ServerOptions(threads: -5, internalSecret: "s").listeners.map(\.threads), [1])
        var two = ServerOptions(listen: .path("/tmp/a.sock"), threads: 8, internalSecret: "s")
        two.add(.path("/tmp/b.sock"), threads: 0)
        XCTAssertEqual(two.listeners.map(\.threads), [8, 1])
    }

    // MARK: A real responder (bazar-catalog) driven by cgi-fcgi

    func testRealServerAnswersInternalInfoRequest() throws {
        let catalog = try CatalogProcess(directory: directory)
        let answer = try catalog.request("GET", "/catalog/info/6")
        XCTAssertEqual(answer.statusLine, "Status: 200 OK", catalog.logTail())
        XCTAssertEqual(answer.header("Content-Type"), "application/json; charset=utf-8")
        XCTAssertEqual(answer.header("X-Upstream"), "catalog-1")
        XCTAssertEqual(answer.header("Content-Length"), "\(answer.body.count)")
        let book = try XCTUnwrap(answer.json.flatMap(Book.init(json:)), answer.text)
        XCTAssertEqual(book.id, 6)
        XCTAssertEqual(book.title, "Why theory classes are so hard.")
        XCTAssertEqual(book.topic, "undergraduate school")
        XCTAssertGreaterThan(book.stock, 0)
    }

    func testRealServerAnswersPublicListener404() throws {
        let catalog = try CatalogProcess(directory: directory)
        let answer = try catalog.request("GET", "/catalog/info/6", internal: false)
        XCTAssertEqual(answer.statusLine, "Status: 503 Service Unavailable", "a public request never belongs to a replica")
        XCTAssertEqual(answer.json?["error"]?["code"]?.stringValue, "unavailable")
        // The same responder still serves the internal listener afterwards.
        XCTAssertEqual(try catalog.request("GET", "/catalog/info/6").status, 200)
    }

    /// Across hosts, whoever reaches a tier's socket could claim the internal listener: without
    /// the deployment's secret (or with another) the request is public.
    func testInternalRequestWithoutTheSecretIsPublic() throws {
        let catalog = try CatalogProcess(directory: directory)
        for secret in [nil, "", "unit-test-internal-secreT", TestSupport.internalSecret + "x"] {
            let answer = try catalog.request("GET", "/catalog/info/6", secret: secret)
            XCTAssertEqual(answer.statusLine, "Status: 503 Service Unavailable", "secret \(secret ?? "nil")")
        }
        XCTAssertEqual(try catalog.request("GET", "/catalog/info/6").status, 200)
    }

    /// Across hosts a tier listens on TCP, and only the addresses in `FCGI_WEB_SERVER_ADDRS`
    /// (nginx's) may talk to it: libfcgi closes any other connection before reading a byte, so
    /// no one else can send it a record (CVE-2025-23016).
    func testTCPListenerServesOnlyTheAllowedAddresses() throws {
        let allowed = try CatalogProcess(directory: directory, tcpPort: try TestSupport.freeLoopbackPort(),
                                         allowedAddresses: "10.9.8.7,127.0.0.1")
        XCTAssertEqual(try allowed.request("GET", "/catalog/info/6").status, 200)
        let other = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: other) }
        let refusing = try CatalogProcess(directory: other, tcpPort: try TestSupport.freeLoopbackPort(),
                                          allowedAddresses: "10.9.8.7")
        let refused = try refusing.request("GET", "/catalog/info/6")
        XCTAssertEqual(refused.status, 0, "a connection from an address not allowed gets no answer: \(refused.statusLine)")
        XCTAssertEqual(try refusing.request("GET", "/catalog/info/6").status, 0)
        XCTAssertTrue(refusing.process.isRunning, "and the responder goes on")
    }

    /// Across hosts a container may take over an address another tier held a moment ago: a
    /// request meant for another process is refused, marked as not applied, and records nothing.
    func testARequestMeantForAnotherProcessIsRefusedAsNotApplied() throws {
        let catalog = try CatalogProcess(directory: directory)
        for (method, uri) in [("POST", "/order-1/witness"), ("POST", "/orders/purchase/1"), ("GET", "/catalog-2/health"),
                              ("POST", "/front/invalidate")] {
            let answer = try catalog.request(method, uri, body: Array("{}".utf8))
            XCTAssertEqual(answer.status, 503, uri)
            XCTAssertEqual(answer.headers.first { $0.0 == "X-Bazar-Not-Sent" }?.1, "true", uri)
            XCTAssertNil(answer.headers.first { $0.0 == "X-Upstream" }, uri)
        }
        XCTAssertEqual(try catalog.request("GET", "/catalog-1/health").status, 200)
    }

    func testRealServerPassesPostBodyToHandler() throws {
        let catalog = try CatalogProcess(directory: directory)
        let body = Array("{\"x\":1234}".utf8)
        XCTAssertEqual(body.count, 10)
        let answer = try catalog.request("POST", "/catalog-primary/update/1", body: body)
        // Only a handler that read the body can name its unknown key.
        XCTAssertEqual(answer.statusLine, "Status: 400 Bad Request")
        XCTAssertTrue(answer.json?["error"]?["message"]?.stringValue?.contains("\"x\"") == true, answer.text)
        // Without the body the handler answers a different 400.
        let empty = try catalog.request("POST", "/catalog-primary/update/1")
        XCTAssertEqual(empty.status, 400)
        XCTAssertEqual(empty.json?["error"]?["message"]?.stringValue, "The body must be a JSON object.")
    }

    func testRealServerReadsBodiesUpTo64KiBAndLeavesLongerOnesUnread() throws {
        let catalog = try CatalogProcess(directory: directory)
        func body(length: Int) -> [UInt8] {
            var body = Array("{\"x\":1".utf8)
            body += [UInt8](repeating: UInt8(ascii: " "), count: length - body.count - 1)
            body.append(UInt8(ascii: "}"))
            return body
        }
        let atLimit = try catalog.request("POST", "/catalog-primary/update/1", body: body(length: 65_536))
        XCTAssertEqual(atLimit.status, 400)
        XCTAssertTrue(atLimit.json?["error"]?["message"]?.stringValue?.contains("\"x\"") == true,
                      "a 64 KiB body must reach the handler: \(atLimit.text)")
        let overLimit = try catalog.request("POST", "/catalog-primary/update/1", body: body(length: 65_537))
        // The longer body was not read, so the handler saw an empty one.
        XCTAssertEqual(overLimit.status, 400)
        XCTAssertEqual(overLimit.json?["error"]?["message"]?.stringValue, "The body must be a JSON object.")
        // The unread body did not upset the responder.
        XCTAssertEqual(try catalog.request("GET", "/catalog/info/1").status, 200)
    }

    func testRealServerPassesQueryStringAndHeaders() throws {
        let catalog = try CatalogProcess(directory: directory)
        let takes = try catalog.request("GET", "/catalog-primary/takes?after=0")
        XCTAssertEqual(takes.status, 200, takes.text)
        XCTAssertEqual(takes.text, "{\"orders\":[]}")

        let noKey = try catalog.request("POST", "/catalog-primary/take/1")
        XCTAssertEqual(noKey.status, 400)
        XCTAssertEqual(noKey.json?["error"]?["message"]?.stringValue, "X-Bazar-Key is required.")
        // With the header the take goes through (no front holds a lease: none to tell).
        let keyed = try catalog.request("POST", "/catalog-primary/take/1", headers: ["X-Bazar-Key": "client:abc"])
        XCTAssertEqual(keyed.status, 200, keyed.text)
        XCTAssertEqual(keyed.json?["order"]?["key"]?.stringValue, "client:abc")
        let book = try catalog.request("GET", "/catalog/info/1").json.flatMap(Book.init(json:))
        XCTAssertEqual(book?.stock, defaultBooks[0].stock - 1)
        XCTAssertEqual(book?.version, 1)
    }

    func testRealServerAnswersConcurrentRequests() throws {
        let catalog = try CatalogProcess(directory: directory)
        let statuses = LockedBox<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            let status = (try? catalog.request("GET", "/catalog/info/\(index % 7 + 1)"))?.status ?? -1
            statuses.withLock { $0.append(status) }
        }
        XCTAssertEqual(statuses.withLock { $0 }, [Int](repeating: 200, count: 8))
    }

    /// Four clients keep each of the responder's four threads busy on a kept connection, until a
    /// new connection waiting to be accepted is served: it is served while they go on, not once
    /// they stop (they give up only after a generous 60 s, which bounds a hang).
    func testCrowdedThreadsLeaveKeptConnectionsToServeAWaitingOne() throws {
        let catalog = try CatalogProcess(directory: directory)
        let deadline = Date().addingTimeInterval(60)
        let closed = LockedBox(0), answered = LockedBox(false), gaveUp = LockedBox(false), finished = DispatchGroup()
        for _ in 0..<4 {
            finished.enter()
            Thread {
                defer { finished.leave() }
                var connection = try? KeptFastCGIConnection(socket: catalog.socket)
                while !answered.withLock({ $0 }) {
                    guard Date() < deadline else { return gaveUp.withLock { $0 = true } }
                    if connection?.get("/catalog/info/1") != true {
                        closed.withLock { $0 += 1 }
                        connection = try? KeptFastCGIConnection(socket: catalog.socket)
                    }
                }
            }.start()
        }
        usleep(300_000)
        let answer = try catalog.request("GET", "/catalog/info/2")
        let servedWhileCrowded = !gaveUp.withLock { $0 }
        answered.withLock { $0 = true }
        finished.wait()
        XCTAssertEqual(answer.status, 200)
        XCTAssertTrue(servedWhileCrowded, "the waiting connection was served only once the kept ones stopped")
        XCTAssertGreaterThan(closed.withLock { $0 }, 0)
    }

    /// SIGTERM ends the server with status 0 (waited for up to a generous 60 s: a server that
    /// ignored it, or waited for a request, never ends here).
    func testRealServerExitsZeroOnSIGTERM() throws {
        let catalog = try CatalogProcess(directory: directory)
        XCTAssertEqual(try catalog.request("GET", "/catalog/health").status, 200)
        XCTAssertEqual(kill(catalog.process.processIdentifier, SIGTERM), 0)
        XCTAssertTrue(catalog.waitForExit(seconds: 60), "still running 60 s after SIGTERM")
        if !catalog.process.isRunning {
            XCTAssertEqual(catalog.process.terminationReason, .exit, catalog.logTail())
            XCTAssertEqual(catalog.process.terminationStatus, 0, catalog.logTail())
        }
    }
}

/// A tiny lock-protected box for values shared with test threads.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// A test prerequisite that is missing: the test fails (it is never skipped).
enum TestSupportError: Error {
    case missingTool(String)
}
