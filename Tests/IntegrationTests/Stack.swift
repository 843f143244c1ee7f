import Foundation
import XCTest

/// A real Bazar stack for one test class: nginx and the five spawn-fcgi processes started by
/// `nginx/bazarctl up` in a temporary `BAZAR_VAR`, on a free loopback port.
final class Stack: @unchecked Sendable {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let adminToken = "integration-test-token"

    let variables: URL
    let port: Int
    let client: HTTPClient
    private let environment: [String: String]

    /// Starts a stack; `extra` adds environment (e.g. `BAZAR_FRONT_ARGS`); `directory` is its
    /// `BAZAR_VAR` (e.g. a small tmpfs) instead of a new temporary directory.
    init(_ extra: [String: String] = [:], directory: URL? = nil) throws {
        variables = directory ?? URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("bazar-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: variables, withIntermediateDirectories: true)
        port = try Self.freePort()
        var environment = ProcessInfo.processInfo.environment
        environment["BAZAR_VAR"] = variables.path
        environment["BAZAR_PORT"] = "\(port)"
        // BAZAR_TEST_BIN runs the tests against other binaries (e.g. an older commit's, to check
        // that a test fails without its fix).
        environment["BAZAR_BIN"] = environment["BAZAR_TEST_BIN"] ?? Self.repository.appendingPathComponent(".build/debug").path
        environment["BAZAR_ADMIN_TOKEN"] = Self.adminToken
        environment["BAZAR_THREADS"] = "16"
        environment.merge(extra) { $1 }
        self.environment = environment
        client = HTTPClient(base: "http://127.0.0.1:\(port)")
        let (status, output) = try ctl("up")
        guard status == 0 else {
            // What did start (e.g. every process but a front that refused its flags) stops too.
            _ = try? ctl("down")
            throw StackError.startFailed(output)
        }
        // The front caches once it holds its read lease, asked for 200 ms after it starts.
        Thread.sleep(forTimeInterval: 0.6)
    }

    /// `nginx/bazarctl ARGS…`: its exit status and output.
    @discardableResult
    func ctl(_ arguments: String...) throws -> (Int32, String) {
        try run(Self.bazarctl, arguments)
    }

    /// The bazarctl the tests run: BAZAR_TEST_CTL (e.g. an older commit's, with its nginx
    /// template beside it, to check that a test fails without a fix in the scripts), else this
    /// repository's.
    static var bazarctl: String {
        ProcessInfo.processInfo.environment["BAZAR_TEST_CTL"] ?? repository.appendingPathComponent("nginx/bazarctl").path
    }

    /// Runs a program with the stack's environment.
    func run(_ program: String, _ arguments: [String]) throws -> (Int32, String) {
        try Self.run(program, arguments, environment: environment)
    }

    /// Runs a program (with `environment`, or this process's): its exit status and its
    /// standard output and error together.
    static func run(_ program: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// The pid of one process (`front`, `catalog-1`, …, `nginx`) from its pid file.
    func pid(_ name: String) -> Int32? {
        let file = variables.appendingPathComponent("run/\(name).pid")
        return (try? String(contentsOf: file, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// GET `path` on nginx's internal listener (`/order-1/orders`, `/catalog-2/info/1`, …): the body.
    func internalGet(_ path: String) throws -> String {
        try internalCall(["http://bazar\(path)"])
    }

    /// POST `body` to `path` on nginx's internal listener, with `headers`: the status line's code
    /// and the body.
    func internalPost(_ path: String, body: String, headers: [String: String] = [:]) throws -> (Int, String) {
        let answer = try internalPostAnswer(path, body: body, headers: headers)
        return (answer.status, answer.body)
    }

    /// POST `body` to `path` on nginx's internal listener, with `headers`: the status, the
    /// answer's headers (names lowercased) and the body.
    func internalPostAnswer(_ path: String, body: String, headers: [String: String] = [:]) throws
        -> (status: Int, headers: [String: String], body: String) {
        let headerArguments = headers.sorted { $0.key < $1.key }.flatMap { ["-H", "\($0.key): \($0.value)"] }
        let output = try internalCall(headerArguments + ["-D", "-", "-X", "POST", "-d", body, "http://bazar\(path)"])
        let parts = output.components(separatedBy: "\r\n\r\n")
        let head = parts.first?.components(separatedBy: "\r\n") ?? []
        let status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        var answerHeaders: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            answerHeaders[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, answerHeaders, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    private func internalCall(_ arguments: [String]) throws -> String {
        let socket = variables.appendingPathComponent("run/internal.sock").path
        return try run("/usr/bin/curl", ["-s", "--max-time", "20", "--unix-socket", socket,
                                         "-H", "X-Bazar-Secret: \(try internalSecret())"] + arguments).1
    }

    /// The deployment's internal secret (`bazarctl up` made it).
    func internalSecret() throws -> String {
        try String(contentsOf: variables.appendingPathComponent("internal.secret"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Every order number one order replica lists, following its pages.
    func orderNumbers(on replica: String) throws -> [Int] {
        var numbers: [Int] = []
        var after = 0
        while true {
            let body = try internalGet("/\(replica)/orders?after=\(after)&limit=1000")
            let page = JSONValue(try JSONSerialization.jsonObject(with: Data(body.utf8)))
            numbers += page["orders"].array.compactMap { $0["number"].int }
            guard let next = page["next"].int else { return numbers }
            after = next
        }
    }

    /// Reads `path` until the front answers it from its cache (it caches once it holds its read
    /// lease, a moment after it starts); fails after `timeout` (generous: it bounds only a hang).
    func warm(_ path: String, timeout: TimeInterval = 60) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await client.get(path).header("X-Cache") == "HIT" { return }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        XCTFail("\(path) never became a cache hit")
    }

    /// Stops everything and removes the directory.
    func stop() {
        _ = try? ctl("down")
        try? FileManager.default.removeItem(at: variables)
    }

    /// Polls `/health` until every replica is up and the applied numbers agree pairwise; throws
    /// after `timeout` (generous: it bounds only a hang).
    func waitUntilLevel(timeout: TimeInterval = 60) async throws -> JSONValue {
        let deadline = Date().addingTimeInterval(timeout)
        var last: JSONValue = .null
        while Date() < deadline {
            if let health = try? await client.get("/health"), health.status == 200 {
                last = health.json
                let replicas = health.json["replicas"].array
                let applied = Dictionary(uniqueKeysWithValues: replicas.map { ($0["name"].string, $0["applied"].int) })
                if replicas.allSatisfy({ $0["status"].string == "up" }),
                   applied["catalog-1"] == applied["catalog-2"], applied["order-1"] == applied["order-2"] {
                    return health.json
                }
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw StackError.notLevel("\(last)")
    }

    /// A loopback TCP port nothing listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw StackError.startFailed("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

enum StackError: Error {
    case startFailed(String)
    case notLevel(String)
}
