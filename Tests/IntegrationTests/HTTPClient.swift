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
}
