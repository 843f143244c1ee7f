import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A parsed JSON document for assertions (Foundation's parser, independent of the server's).
enum JSONValue: Equatable, CustomStringConvertible, @unchecked Sendable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(_ any: Any) {
        switch any {
        case let value as String: self = .string(value)
        case let value as NSNumber:
            self = String(cString: value.objCType) == "c" ? .bool(value.boolValue) : .number(value.doubleValue)
        case let value as [Any]: self = .array(value.map(JSONValue.init))
        case let value as [String: Any]: self = .object(value.mapValues(JSONValue.init))
        default: self = .null
        }
    }

    subscript(key: String) -> JSONValue { if case .object(let members) = self { members[key] ?? .null } else { .null } }
    var array: [JSONValue] { if case .array(let items) = self { items } else { [] } }
    var string: String? { if case .string(let value) = self { value } else { nil } }
    var double: Double? { if case .number(let value) = self { value } else { nil } }
    var int: Int? { double.map { Int($0) } }
    var keys: Set<String> { if case .object(let members) = self { Set(members.keys) } else { [] } }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .number(let value): "\(value)"
        case .string(let value): "\"\(value)\""
        case .array(let items): "[\(items.map(\.description).joined(separator: ","))]"
        case .object(let members): "{\(members.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ","))}"
        }
    }
}

/// One HTTP answer.
struct HTTPAnswer: Sendable {
    let status: Int
    let headers: [String: String]
    let body: Data

    /// A header, by case-insensitive name.
    func header(_ name: String) -> String? {
        headers.first { $0.key.lowercased() == name.lowercased() }?.value
    }

    /// The body parsed as JSON (`.null` when it is not JSON).
    var json: JSONValue {
        (try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])).map(JSONValue.init) ?? .null
    }

    /// The error code of an API.md error body.
    var errorCode: String? { json["error"]["code"].string }
}

/// URLSession against the public listener.
final class HTTPClient: Sendable {
    let base: String
    private let session: URLSession

    /// A client of its own connections, at most `maximumConnections` at once.
    init(base: String, maximumConnections: Int = 64) {
        self.base = base
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = maximumConnections
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.timeoutIntervalForRequest = 30
        session = URLSession(configuration: configuration)
    }

    func get(_ path: String, headers: [String: String] = [:]) async throws -> HTTPAnswer {
        try await send("GET", path, headers: headers)
    }

    func send(_ method: String, _ path: String, headers: [String: String] = [:], body: Data? = nil) async throws -> HTTPAnswer {
        guard let url = URL(string: base + path) else { throw URLError(.badURL) }
        var request = URLRequest(url: url)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw URLError(.badServerResponse) }
        var answerHeaders: [String: String] = [:]
        for (name, value) in http.allHeaderFields { answerHeaders["\(name)"] = "\(value)" }
        return HTTPAnswer(status: http.statusCode, headers: answerHeaders, body: data)
    }

    /// `PUT /update/{id}` with the admin token.
    func update(_ id: Int, _ body: String, token: String = Stack.adminToken) async throws -> HTTPAnswer {
        try await send("PUT", "/update/\(id)", headers: ["Authorization": "Bearer \(token)"], body: Data(body.utf8))
    }

    /// `POST /books` with the admin token (and `headers`, e.g. an `Idempotency-Key`).
    func addBooks(_ body: String, headers: [String: String] = [:], token: String = Stack.adminToken) async throws -> HTTPAnswer {
        try await send("POST", "/books", headers: headers.merging(["Authorization": "Bearer \(token)"]) { $1 }, body: Data(body.utf8))
    }

    /// The ids a search lists, following its pages from the first.
    func searchIDs(_ topic: String, limit: Int = 1000) async throws -> [Int] {
        var ids: [Int] = []
        var after = 0
        while true {
            let page = try await get("/search/\(topic)?after=\(after)&limit=\(limit)").json
            ids += page["items"].array.compactMap { $0["id"].int }
            guard let next = page["next"].int else { return ids }
            after = next
        }
    }
}

extension HTTPClient {
    /// `sendOnce` on a thread of its own, so that many can wait at once.
    func sendOnce(_ method: String, _ path: String, headers: [String: String] = [:], body: String = "") async -> Int? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: self.sendOnce(method, path, headers: headers, body: body)) }
        }
    }

    /// One request on a connection of its own, closed after the answer, never resent (unlike
    /// URLSession, whose transport may resend a request when a reused connection died): the
    /// status, or nil when no complete status line came back. Blocks the calling thread.
    func sendOnce(_ method: String, _ path: String, headers: [String: String] = [:], body: String = "") -> Int? {
        guard let port = URL(string: base)?.port, let fd = try? loopbackConnection(port: port, timeout: 20) else { return nil }
        defer { close(fd) }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        let bytes = Array((request + "\r\n" + body).utf8)
        guard Glibc.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { return nil }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !answer.contains(13) {
            let count = recv(fd, &chunk, chunk.count, 0)
            guard count > 0 else { break }
            answer += chunk[..<count]
        }
        let statusLine = String(decoding: answer.prefix { $0 != 13 }, as: UTF8.self).split(separator: " ")
        return statusLine.count >= 2 && statusLine[0].hasPrefix("HTTP/1.") ? Int(statusLine[1]) : nil
    }
}

/// A TCP connection to 127.0.0.1:`port` whose reads give up after `timeout` seconds.
func loopbackConnection(port: Int, timeout: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw StackError.startFailed("socket()") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        throw StackError.startFailed("connect() to \(port)")
    }
    var interval = timeval(tv_sec: timeout, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
    return fd
}
