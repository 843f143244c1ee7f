// libFuzzer target over the front's request routing and parsing (issue #5).
//
// Built by fuzz/build with `swiftc -sanitize=fuzzer,address`: the package's modules (as
// SwiftPM orders them) and this file, which imports Front and makes the front as bazar-front
// does (`FrontTier.make` from flags), so the real routes, cache, forwarding, health and token
// code runs, talking to a fake internal
// listener (a unix socket served by a thread of this process) that records every call the
// front makes to the other tiers. Each input is used four ways:
//
//  1. As a public (or internal) request to the front's handler. Properties: no crash (ASan,
//     Swift traps), a well-formed FastCGI response (status line, JSON Content-Type, exact
//     Content-Length, a body our own parser accepts, an API.md error body with the code that
//     matches the status, Allow on 405), no 5xx (the fake tiers always answer), and a strict
//     forwarding discipline: only the routes of API.md reach the tiers, with the id/topic of
//     the request; a purchase or update reaches them only for a valid request (right method,
//     id, token, body), never for one that was answered 4xx.
//  2. As a JSON document: JSON.parse never traps; whatever parses encodes, re-parses to the
//     same value and re-encodes to the same bytes, as valid UTF-8.
//  3. As an update body: BookUpdate.parse's results respect API.md's bounds, survive the
//     round trip through their JSON form, and apply to a book without stock going out of range.
//     As a `POST /books` body: what NewBooks.parse accepts respects API.md's bounds.
//  4. Path segments: PathParsing.positiveID agrees with an independent reference,
//     decodeSegment/encodeSegment round-trip, and decoding a `+` as a space (search topics)
//     is decoding it as `%20`.
//
// Input layout for (1): byte 0 = flags (bit 0 internal listener, bit 1 body over the limit,
// bits 2-4 method, bit 5 send the right token, bit 6 send an Idempotency-Key, bit 7 HEAD-ish
// custom method), then fields separated by '\n': request URI, Authorization, Idempotency-Key,
// and the rest is the body.

import Basics
import BazarCore
import Foundation
import Front
import Glibc
import HTTPMessages
import Synchronization

// MARK: - The fake internal listener

/// One call the front made to another tier.
struct ForwardedCall: Sendable {
    var method: String
    var path: String
    var headers: [String: String]
    var body: [UInt8]
}

let fuzzToken = "fuzz-token-0123456789"
let recorded = Mutex<[ForwardedCall]>([])

/// Serves HTTP/1.1 keep-alive on a unix socket, answering like nginx + the tiers would.
/// The primary's routes as callers address them: through nginx's `/catalog-primary/`, or by the
/// name of the replica that answered as the primary (`PrimaryCalls`).
enum TierRoute {
    /// Whether `parts` (a path split at "/") name a primary's route by the replica's name.
    static func primaryByName<S: StringProtocol>(_ parts: [S]) -> Bool {
        parts.count > 2 && ["catalog-1", "catalog-2"].contains(String(parts[1])) && parts[2] != "health"
    }

    /// Whether `path` is a renewal of the front's read lease, on any of the primary's addresses.
    static func isLeaseRenewal(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count > 2 && (parts[1] == "catalog-primary" || primaryByName(parts)) && parts[2] == "lease"
    }
}

final class FakeTiers: Sendable {
    let path: String

    init() {
        // fuzz/run points BAZAR_FUZZ_DIR at a temporary directory it removes afterwards.
        let directory = ProcessInfo.processInfo.environment["BAZAR_FUZZ_DIR"] ?? "/tmp"
        path = "\(directory)/bazar-fuzz-\(getpid()).sock"
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        precondition(bound == 0 && listen(fd, 64) == 0, "fake tiers: cannot listen on \(path)")
        let thread = Thread {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { continue }
                let connection = Thread { FakeTiers.serve(client) }
                connection.stackSize = 1 << 20
                connection.start()
            }
        }
        thread.start()
    }

    private static func serve(_ fd: Int32) {
        defer { close(fd) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            // Head.
            var headEnd: Int?
            while headEnd == nil {
                if let end = find(buffer, Array("\r\n\r\n".utf8)) { headEnd = end; break }
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 { return }
                buffer += chunk[..<count]
            }
            let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
            buffer.removeFirst(headEnd! + 4)
            var lines = head.components(separatedBy: "\r\n")
            let requestLine = lines.removeFirst().split(separator: " ")
            guard requestLine.count == 3 else { fatalError("fake tiers: bad request line \(head.debugDescription)") }
            var headers: [String: String] = [:]
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { fatalError("fake tiers: bad header line \(line.debugDescription)") }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            while buffer.count < length {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 { return }
                buffer += chunk[..<count]
            }
            let body = Array(buffer[..<length])
            buffer.removeFirst(length)
            let call = ForwardedCall(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers, body: body)
            recorded.withLock { $0.append(call) }
            let (status, extra, answer) = respond(call)
            var out = "HTTP/1.1 \(status) X\r\nContent-Type: application/json\r\nContent-Length: \(answer.utf8.count)\r\n"
            for (name, value) in extra { out += "\(name): \(value)\r\n" }
            out += "\r\n" + answer
            let bytes = Array(out.utf8)
            var sent = 0
            while sent < bytes.count {
                let count = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if count <= 0 { return }
                sent += count
            }
        }
    }

    private static func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index..<(index + needle.count)].elementsEqual(needle) {
            return index
        }
        return nil
    }

    private static func book(_ id: String) -> String {
        #"{"id":\#(id),"title":"T","topic":"t","price":1.0,"stock":5,"version":1}"#
    }

    private static func respond(_ call: ForwardedCall) -> (Int, [(String, String)], String) {
        let path = call.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? call.path
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let upstream = ("X-Upstream", "catalog-1")
        switch (call.method, TierRoute.primaryByName(parts) ? "catalog-primary" : parts.count > 1 ? parts[1] : "", parts.count) {
        case ("GET", "catalog", 4) where parts[2] == "info":
            return (200, [upstream, ("X-Bazar-Seq", "1"), ("X-Bazar-Books", parts[3])], book(parts[3]))
        case ("GET", "catalog", 4) where parts[2] == "search":
            return (200, [upstream, ("X-Bazar-Seq", "1"), ("X-Bazar-Books", "")], #"{"topic":"t","items":[]}"#)
        case ("GET", "orders", 3) where parts[2] == "orders":
            return (200, [("X-Upstream", "order-1")], #"{"orders":[],"next":null}"#)
        case ("GET", "orders", 4) where parts[2] == "orders":
            return (404, [("X-Upstream", "order-1")], #"{"error":{"code":"not_found","message":"No such order."}}"#)
        case ("POST", "orders", 4) where parts[2] == "purchase":
            return (200, [("X-Upstream", "order-2")],
                    #"{"order":{"number":1,"book_id":\#(parts[3]),"title":"T","price":1.0,"created_at":"2026-01-01T00:00:00Z"},"book":\#(book(parts[3]))}"#)
        case ("POST", "catalog-primary", 4) where parts[2] == "lease":
            return (200, [upstream], #"{"lease_ms":60000,"fresh":false,"announced":0}"#)
        case ("POST", "catalog-primary", 4) where parts[2] == "update":
            return (200, [upstream], book(parts[3]))
        case ("POST", "catalog-primary", 3) where parts[2] == "books":
            return (201, [upstream], book("8"))
        case ("GET", let name, 3) where parts[2] == "health":
            let role = name == "catalog-1" ? "primary" : name == "catalog-2" ? "backup" : "order"
            return (200, [("X-Upstream", name)], #"{"name":"\#(name)","role":"\#(role)","status":"up","applied":1}"#)
        default:
            return (404, [], #"{"error":{"code":"not_found","message":"No such route."}}"#)
        }
    }
}

// MARK: - The front under test

struct Harness: Sendable {
    let tiers = FakeTiers()
    let handle: @Sendable (Request) -> Response

    init() {
        setenv("BAZAR_ADMIN_TOKEN", fuzzToken, 1)
        let secretFile = tiers.path + ".secret"
        FileManager.default.createFile(atPath: secretFile, contents: Data("fuzz-internal-secret\n".utf8))
        let flags = try! Flags(["--internal", tiers.path, "--internal-secret-file", secretFile, "--cache-capacity", "64",
                                "--admin-token-file", "/nonexistent"],
                               known: FrontTier.flags + [InternalSecret.flag])
        handle = try! FrontTier.make(flags).handle
    }
}

nonisolated(unsafe) var harness: Harness?

/// The key a client's write names: its `Idempotency-Key`, unless absent or empty (which names none).
func clientKey(_ headers: [String: String]) -> String? {
    headers["Idempotency-Key"].flatMap { $0.isEmpty ? nil : $0 }
}

func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() {
        FileHandle.standardError.write(Data("FUZZ PROPERTY VIOLATED: \(message())\n".utf8))
        abort()
    }
}

// MARK: - Independent references

/// A positive decimal Int64 (digits only), computed without Int64(String).
func referenceID(_ text: Substring) -> Int64? {
    guard !text.isEmpty else { return nil }
    var value: Int64 = 0
    for byte in text.utf8 {
        guard byte >= 48 && byte <= 57 else { return nil }
        let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - 48))
        if overflow1 || overflow2 { return nil }
        value = sum
    }
    return value > 0 ? value : nil
}

/// The path's segments as the routes see them, restated independently of FrontRoutes: one
/// trailing slash after a whole public route is dropped (`/info/1/` is `/info/1`, `/orders/`
/// is `/orders`), but not after a route's name alone (`/info/` keeps its empty id).
func referenceRouteSegments(_ path: String) -> [Substring]? {
    guard var segments = PathParsing.segments(path) else { return nil }
    let lengths: [String: [Int]] = ["info": [2], "search": [2], "purchase": [2], "orders": [1, 2], "update": [2],
                                    "books": [1], "health": [1], "stats": [1]]
    if segments.count > 1, segments.last!.isEmpty, lengths[String(segments[0])]?.contains(segments.count - 1) == true {
        segments.removeLast()
    }
    return segments
}

let errorCodes: [Int: String] = [400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                                 409: "out_of_stock", 413: "payload_too_large", 429: "too_many_requests",
                                 503: "unavailable"]

// MARK: - Properties

/// 1. Routing.
func fuzzRouting(_ input: [UInt8], _ handle: @Sendable (Request) -> Response) {
    guard let flags = input.first else { return }
    let fields = input.dropFirst().split(separator: UInt8(ascii: "\n"), maxSplits: 3, omittingEmptySubsequences: false)
    func field(_ index: Int) -> [UInt8] { index < fields.count ? Array(fields[index]) : [] }
    let methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]
    var method = methods[Int(flags >> 2) & 7]
    if flags & 0x80 != 0, !field(2).isEmpty { method = String(decoding: field(2).prefix(12), as: UTF8.self) }
    let uri = String(decoding: field(0), as: UTF8.self)
    let path = uri.firstIndex(of: "?").map { String(uri[..<$0]) } ?? uri
    let query = uri.firstIndex(of: "?").map { String(uri[uri.index(after: $0)...]) } ?? ""
    var headers: [String: String] = [:]
    let authorization = flags & 0x20 != 0 ? "Bearer \(fuzzToken)" : String(decoding: field(1), as: UTF8.self)
    if flags & 0x20 != 0 || !field(1).isEmpty { headers["Authorization"] = authorization }
    if flags & 0x40 != 0 { headers["Idempotency-Key"] = String(decoding: field(2), as: UTF8.self) }
    let body = field(3)
    let request = Request(method: method, path: path, query: query, headers: headers, body: flags & 2 != 0 ? [] : body,
                          bodyTooLarge: flags & 2 != 0, isInternal: flags & 1 != 0)

    recorded.withLock { $0.removeAll() }
    let response = handle(request)
    // The front's read-lease renewals run on a thread of their own, whatever the request.
    let calls = recorded.withLock { $0 }.filter { !TierRoute.isLeaseRenewal($0.path) }
    let where_ = "\(method) \(uri.debugDescription) internal=\(request.isInternal) headers=\(headers) body=\(String(decoding: body.prefix(200), as: UTF8.self).debugDescription)"

    // A well-formed FastCGI response.
    let bytes = response.encoded()
    guard let split = (0..<max(0, bytes.count - 3)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10 }) else {
        check(false, "no header block: \(where_)")
        return
    }
    let head = String(decoding: bytes[..<split], as: UTF8.self).components(separatedBy: "\r\n")
    let responseBody = Array(bytes[(split + 4)...])
    check(head[0].hasPrefix("Status: "), "no Status line: \(head[0]) for \(where_)")
    let status = Int(head[0].dropFirst(8).prefix(3)) ?? 0
    check(status == response.status, "Status line \(status) != \(response.status) for \(where_)")
    var responseHeaders: [String: String] = [:]
    for line in head.dropFirst() {
        check(!line.contains("\r") && !line.contains("\n"), "header injection \(line.debugDescription) for \(where_)")
        let parts = line.split(separator: ":", maxSplits: 1)
        check(parts.count == 2, "bad header line \(line.debugDescription) for \(where_)")
        responseHeaders[String(parts[0]).lowercased()] = parts[1].trimmingCharacters(in: .whitespaces)
    }
    // Every answer is JSON but the metrics themselves, in Prometheus' text format.
    let exposition = status == 200 && path.hasPrefix("/metrics")
    check(responseHeaders["content-type"] == (exposition ? "text/plain; version=0.0.4; charset=utf-8" : "application/json; charset=utf-8"),
          "Content-Type \(responseHeaders) for \(where_)")
    check(responseHeaders["content-length"] == "\(responseBody.count)", "Content-Length for \(where_)")
    // An internal request (only the tiers send those) meant for another process is a 503 marked
    // not applied; every other answer is the caller's own doing.
    let misdirected = request.isInternal && PathParsing.segments(request.path).map { $0.first != "front" } == true
    if misdirected {
        check(status == 503 && responseHeaders["x-bazar-not-sent"] == "true", "misdirected \(status) for \(where_)")
    } else {
        check(status < 500, "a \(status) for \(where_): \(String(decoding: responseBody, as: UTF8.self))")
        check([200, 201, 400, 401, 404, 405, 409, 413].contains(status), "unexpected status \(status) for \(where_)")
    }
    if exposition {
        check(String(decoding: responseBody, as: UTF8.self).hasPrefix("# HELP "), "metrics not in the text format for \(where_)")
        check(calls.allSatisfy { $0.method == "GET" }, "a scrape of the metrics wrote: \(calls.map(\.path)) for \(where_)")
        return
    }
    guard let json = try? JSON.parse(responseBody) else {
        check(false, "the body is not JSON for \(where_): \(String(decoding: responseBody, as: UTF8.self))")
        return
    }
    if status >= 400 {
        let code = json["error"]?["code"]?.stringValue
        check(code == errorCodes[status], "status \(status) with code \(code ?? "nil") for \(where_)")
        check(!(json["error"]?["message"]?.stringValue ?? "").isEmpty, "an error without a message for \(where_)")
    }
    if status == 405 { check(responseHeaders["allow"] != nil, "405 without Allow for \(where_)") }

    // Forwarding discipline.
    let segments = request.isInternal ? PathParsing.segments(path) : referenceRouteSegments(path)
    let route = segments?.first.map(String.init) ?? ""
    let writes = calls.filter { $0.method != "GET" }
    if request.isInternal {
        check(calls.isEmpty, "an internal-listener request reached the tiers: \(calls.map(\.path)) for \(where_)")
    }
    if [400, 401, 405, 413].contains(status) {
        check(writes.isEmpty, "a rejected request (\(status)) wrote: \(writes.map(\.path)) for \(where_)")
    }
    for call in calls {
        let pathAndQuery = call.path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let parts = pathAndQuery[0].split(separator: "/", omittingEmptySubsequences: false)
        check(parts.first == "" && parts.count >= 3, "odd forwarded path \(call.path) for \(where_)")
        switch (call.method, TierRoute.primaryByName(parts) ? "catalog-primary" : parts[1], parts[2]) {
        case ("GET", "catalog", "info"):
            check(parts.count == 4 && route == "info" && segments?.count == 2 && ["GET", "HEAD"].contains(method)
                  && referenceID(parts[3]) != nil && referenceID(parts[3]) == segments.flatMap { referenceID($0[1]) },
                  "info forwarded as \(call.path) for \(where_)")
        case ("GET", "catalog", "search"):
            guard parts.count == 4, route == "search", segments?.count == 2, ["GET", "HEAD"].contains(method),
                  let topic = try? PathParsing.decodeSegment(segments![1], plusAsSpace: true) else {
                check(false, "search forwarded as \(call.path) for \(where_)")
                return
            }
            check(String(parts[3]) == PathParsing.encodeSegment(topic.lowercased()), "search topic \(call.path) for \(where_)")
            let page = pathAndQuery.count == 2 ? try? Page(query: String(pathAndQuery[1])) : nil
            check(page != nil && page?.query == String(pathAndQuery[1]) && (try? Page(query: query)) == page,
                  "search page \(call.path) for \(where_)")
        case ("GET", "orders", "orders"):
            check(route == "orders" && ["GET", "HEAD"].contains(method), "orders forwarded for \(where_)")
            if parts.count == 4 {
                check(segments?.count == 2 && referenceID(parts[3]) == segments.flatMap { referenceID($0[1]) }, "order number \(call.path) for \(where_)")
            } else {
                let page = pathAndQuery.count == 2 ? try? Page(query: String(pathAndQuery[1])) : nil
                check(parts.count == 3 && segments?.count == 1 && page != nil && page?.query == String(pathAndQuery[1])
                      && (try? Page(query: query)) == page, "order list \(call.path) for \(where_)")
            }
        case ("POST", "orders", "purchase"):
            check(parts.count == 4 && route == "purchase" && segments?.count == 2 && ["POST", "PUT"].contains(method)
                  && referenceID(parts[3]) != nil && referenceID(parts[3]) == segments.flatMap { referenceID($0[1]) },
                  "purchase forwarded as \(call.path) for \(where_)")
            let key = call.headers["x-bazar-key"] ?? "", attempt = call.headers["x-bazar-attempt"] ?? ""
            check(!attempt.isEmpty && key == (clientKey(headers) ?? WriteIdentity.lineage(of: attempt)[0]) && (1...200).contains(key.utf8.count)
                  && key.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }, "purchase key \(key.debugDescription) for \(where_)")
            check(response.headers.contains { $0.0 == "Idempotency-Key" && $0.1 == key }, "the purchase's answer hides its key for \(where_)")
            check(call.body.isEmpty, "a purchase forwarded a body for \(where_)")
        case ("POST", "catalog-primary", "update"):
            check(parts.count == 4 && route == "update" && segments?.count == 2 && method == "PUT"
                  && referenceID(parts[3]) != nil && referenceID(parts[3]) == segments.flatMap { referenceID($0[1]) },
                  "update forwarded as \(call.path) for \(where_)")
            check(authorization == "Bearer \(fuzzToken)" && headers["Authorization"] != nil, "an update without the token for \(where_)")
            check(!request.bodyTooLarge, "an oversized update was forwarded for \(where_)")
            let sent = try? BookUpdate.parse(request.body), forwarded = try? BookUpdate.parse(call.body)
            check(sent != nil && sent == forwarded, "update body \(String(decoding: call.body, as: UTF8.self)) for \(where_)")
        case ("POST", "catalog-primary", "books"):
            check(parts.count == 3 && route == "books" && segments?.count == 1 && method == "POST", "books forwarded as \(call.path) for \(where_)")
            check(authorization == "Bearer \(fuzzToken)" && headers["Authorization"] != nil, "an addition without the token for \(where_)")
            check(!request.bodyTooLarge && call.body == request.body && (try? NewBooks.parse(call.body)) != nil,
                  "addition body \(String(decoding: call.body, as: UTF8.self)) for \(where_)")
            let key = call.headers["x-bazar-key"] ?? "", attempt = call.headers["x-bazar-attempt"] ?? ""
            check(!attempt.isEmpty && key == (clientKey(headers) ?? WriteIdentity.lineage(of: attempt)[0]), "addition key \(key.debugDescription) for \(where_)")
            check(response.headers.contains { $0.0 == "Idempotency-Key" && $0.1 == key }, "the addition's answer hides its key for \(where_)")
        case ("GET", let name, "health") where ["catalog-1", "catalog-2", "order-1", "order-2"].contains(name):
            check(route == "health" && segments?.count == 1 && ["GET", "HEAD"].contains(method), "health for \(where_)")
        default:
            check(false, "unexpected call \(call.method) \(call.path) for \(where_)")
        }
    }
    // The other direction: a valid public purchase does reach the order tier.
    if !request.isInternal, route == "purchase", segments?.count == 2, ["POST", "PUT"].contains(method),
       segments.flatMap({ referenceID($0[1]) }) != nil, clientKey(headers) == nil {
        check(writes.count == 1 && status == 200, "a valid purchase did not go through (\(status)) for \(where_)")
    }
}

/// 2. JSON round trip.
func fuzzJSON(_ input: [UInt8]) {
    guard let value = try? JSON.parse(input) else { return }
    let encoded = value.encoded()
    check(String(validating: encoded, as: UTF8.self) != nil, "encoded JSON is not UTF-8: \(input)")
    guard let again = try? JSON.parse(encoded) else {
        check(false, "encoded JSON does not parse: \(String(decoding: encoded, as: UTF8.self).debugDescription)")
        return
    }
    check(again == value, "JSON round trip changed the value: \(String(decoding: input, as: UTF8.self).debugDescription)")
    check(again.encoded() == encoded, "JSON re-encoding is not stable: \(String(decoding: input, as: UTF8.self).debugDescription)")
}

/// 3. Update bodies.
func fuzzUpdate(_ input: [UInt8]) {
    guard let update = try? BookUpdate.parse(input) else { return }
    let text = String(decoding: input, as: UTF8.self).debugDescription
    check(update.price != nil || update.stock != nil, "an empty update from \(text)")
    if let price = update.price { check((BookFields.minPrice...BookFields.maxPrice).contains(price), "price \(price) from \(text)") }
    switch update.stock {
    case .set(let level): check((0...BookUpdate.maxStock).contains(level), "stock \(level) from \(text)")
    case .delta(let amount): check((-BookUpdate.maxStock...BookUpdate.maxStock).contains(amount), "stock_delta \(amount) from \(text)")
    case nil: break
    }
    let again = try? BookUpdate.parse(update.json.encoded())
    check(again == update, "update round trip \(text) -> \(String(decoding: update.json.encoded(), as: UTF8.self))")
    for stock in [0, 1, 5, BookUpdate.maxStock] as [Int64] {
        let book = Book(id: 1, title: "t", topic: "t", price: 1, stock: stock, version: 1)
        if let after = try? update.applied(to: book) {
            check((0...BookUpdate.maxStock).contains(after.stock), "stock \(after.stock) after \(text) on \(stock)")
            check(after.price > 0, "price \(after.price) after \(text)")
        }
    }
}

/// 3a. `POST /books` bodies.
func fuzzNewBooks(_ input: [UInt8]) {
    guard let books = try? NewBooks.parse(input) else { return }
    let text = String(decoding: input, as: UTF8.self).debugDescription
    check((1...NewBooks.maximumCount).contains(books.entries.count) && (books.isList || books.entries.count == 1), "count from \(text)")
    for entry in books.entries {
        for field in [entry.title, entry.topic] {
            check((1...BookFields.maxTextLength).contains(field.unicodeScalars.count), "length of \(field.debugDescription) from \(text)")
            check(field.unicodeScalars.allSatisfy(BookFields.isPrintable), "unprintable character in \(field.debugDescription) from \(text)")
        }
        check((BookFields.minPrice...BookFields.maxPrice).contains(entry.price), "price \(entry.price) from \(text)")
        check((0...BookFields.maxStock).contains(entry.stock), "stock \(entry.stock) from \(text)")
    }
}

/// 3b. The same with every number of an object body swapped for each boundary literal in
/// turn (the mutator rarely lands on an exact Int64 or 10^12 edge by itself).
let boundaryNumbers = ["-9223372036854775808", "9223372036854775807", "9223372036854775808", "-1", "0", "-0", "1",
                       "1000000000000", "1000000000001", "-1000000000000", "-1000000000001", "1e999", "5e-324",
                       "999999999999.99999", "1e12", "0.0"]

func fuzzUpdateBoundaries(_ input: [UInt8]) {
    guard let members = (try? JSON.parse(input))?.objectMembers, members.count <= 4 else { return }
    for index in members.indices {
        guard case .number = members[index].1 else { continue }
        for literal in boundaryNumbers {
            var changed = members
            changed[index].1 = .number(literal)
            fuzzUpdate(JSON.object(changed).encoded())
        }
    }
}

/// 4. Path segments.
func fuzzPath(_ input: [UInt8]) {
    let path = String(decoding: input.prefix(4096), as: UTF8.self)
    guard let segments = PathParsing.segments(path) else {
        check(!path.hasPrefix("/") || !path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }), "segments refused \(path.debugDescription)")
        return
    }
    check("/" + segments.joined(separator: "/") == path, "segments do not rebuild \(path.debugDescription)")
    for segment in segments {
        let parsed = try? PathParsing.positiveID(segment)
        check(parsed == referenceID(segment), "positiveID(\(segment.debugDescription)) = \(String(describing: parsed)), reference \(String(describing: referenceID(segment)))")
        if let decoded = try? PathParsing.decodeSegment(segment) {
            check(!decoded.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "control character decoded from \(segment.debugDescription)")
            let encoded = PathParsing.encodeSegment(decoded)
            check(encoded.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "?") },
                  "encodeSegment(\(decoded.debugDescription)) = \(encoded.debugDescription)")
            check((try? PathParsing.decodeSegment(Substring(encoded))) == decoded, "segment round trip \(segment.debugDescription)")
        }
        let spaced = try? PathParsing.decodeSegment(segment, plusAsSpace: true)
        let reference = try? PathParsing.decodeSegment(Substring(segment.replacingOccurrences(of: "+", with: "%20")))
        check(spaced == reference, "plusAsSpace decoding of \(segment.debugDescription): \(String(describing: spaced))")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if harness == nil {
        signal(SIGPIPE, SIG_IGN)
        harness = Harness()
    }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    fuzzRouting(input, harness!.handle)
    fuzzJSON(input)
    fuzzUpdate(input)
    fuzzUpdateBoundaries(input)
    fuzzNewBooks(input)
    // The body field of a routing input too (the seeds carry their JSON there).
    if let newline = input.lastIndex(of: UInt8(ascii: "\n")) {
        let body = Array(input[(newline + 1)...])
        fuzzJSON(body)
        fuzzUpdate(body)
        fuzzUpdateBoundaries(body)
        fuzzNewBooks(body)
    }
    fuzzPath(input.count > 1 ? Array(input.dropFirst()) : input)
    return 0
}
