import Foundation
import Glibc
import XCTest

/// Client mistakes are not server errors: a request refused for its body writes nothing to
/// nginx's error log, so no client can fill it and rotate the real errors out of it.
final class ErrorLogFloodTests: StackTestCase {
    /// One request on a connection of its own: the answer, read until its JSON body ends or
    /// the connection closes.
    private func exchange(_ request: [UInt8]) throws -> String {
        let fd = try loopbackConnection(port: try stack.port, timeout: 20)
        defer { close(fd) }
        guard Glibc.send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return "" }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: answer, as: UTF8.self).hasSuffix("}}\n") {
            let count = recv(fd, &chunk, chunk.count, 0)
            guard count > 0 else { break }
            answer += chunk[..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    func testRefusedBodiesWriteNothingToTheErrorLog() throws {
        let log = try stack.variables.appendingPathComponent("log/nginx-error.log")
        let before = (try? Data(contentsOf: log))?.count ?? 0
        let head = "POST /books HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        let cases: [(String, [UInt8])] = [
            // A Content-Length over 64 KiB, with no body sent (the cheapest flood), leading zeros
            // too, and with a long request line (which nginx's log line used to repeat).
            ("413 ", Array((head + "Content-Length: 100000\r\n\r\n").utf8)),
            ("413 ", Array((head + "Content-Length: 0065537\r\n\r\n").utf8)),
            ("413 ", Array(("POST /books?\(String(repeating: "q", count: 4000)) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            + "Content-Length: 100000\r\n\r\n").utf8)),
            // Chunked bodies: malformed, declaring a chunk over 64 KiB, and well formed.
            ("400 ", Array((head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n").utf8)),
            ("400 ", Array((head + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n20000\r\nabc").utf8)),
            ("400 ", Array((head + "Transfer-Encoding: chunked\r\n\r\n" + "2\r\n{}\r\n0\r\n\r\n").utf8)),
        ]
        for (status, request) in cases {
            for _ in 0..<20 {
                let answer = try exchange(request)
                XCTAssertTrue(answer.hasPrefix("HTTP/1.1 \(status)"), "\(String(decoding: request.prefix(60), as: UTF8.self)): \(answer)")
                XCTAssertTrue(answer.contains(#"{"error":{"code":""#), answer)
            }
        }
        let after = (try? Data(contentsOf: log)) ?? Data()
        let written = String(decoding: after.count >= before ? after.dropFirst(before) : after, as: UTF8.self)
        for fragment in ["client intended to send too large", "invalid chunked body", "[error]"] {
            XCTAssertFalse(written.contains(fragment), "nginx logged a client's mistake: \(written.prefix(600))")
        }
        // A body of exactly 64 KiB still reaches the front, which judges it (here: not JSON).
        let largest = try exchange(Array((head + "Authorization: Bearer \(Stack.adminToken)\r\nContent-Length: 65536\r\n"
                                          + "Connection: close\r\n\r\n" + String(repeating: "x", count: 65_536)).utf8))
        XCTAssertTrue(largest.hasPrefix("HTTP/1.1 400 "), largest)
        XCTAssertTrue(largest.contains("The body must be a JSON object"), largest)
    }
}
