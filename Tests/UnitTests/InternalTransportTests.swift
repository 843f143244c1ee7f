import Foundation
import Glibc
@testable import InternalHTTP
import Synchronization
import SystemCalls
import XCTest

/// The internal client across hosts: addresses, TCP connections and the deployment secret.
final class InternalTransportTests: XCTestCase {
    func testAddressIsTCPOnlyForHostColonPort() {
        XCTAssertEqual(InternalAddress("nginx:8081"), .tcp(host: "nginx", port: 8081))
        XCTAssertEqual(InternalAddress("10.0.0.2:9"), .tcp(host: "10.0.0.2", port: 9))
        XCTAssertEqual(InternalAddress("/var/run/internal.sock"), .unix(path: "/var/run/internal.sock"))
        XCTAssertEqual(InternalAddress("var/run:80/internal.sock"), .unix(path: "var/run:80/internal.sock"))
        XCTAssertEqual(InternalAddress("nginx:0"), .unix(path: "nginx:0"))
        XCTAssertEqual(InternalAddress("nginx:99999"), .unix(path: "nginx:99999"))
        XCTAssertEqual(InternalAddress(":8081"), .unix(path: ":8081"))
    }

    func testCallsOverTCPCarryTheSecretAndKeepTheConnection() throws {
        let server = try TestHTTPServer(loopback: { connection in
            while let request = connection.readRequest() {
                connection.answer(200, request.headers["x-bazar-secret"] ?? "none")
            }
        })
        defer { server.stop() }
        let client = InternalClient(InternalAddress(server.path), secret: "s3cret")
        for _ in 0..<3 {
            let answer = try client.send("GET", "/catalog/info/1")
            XCTAssertEqual(answer.status, 200)
            XCTAssertEqual(String(decoding: answer.body, as: UTF8.self), "s3cret")
        }
        XCTAssertEqual(server.accepted, 1, "a kept TCP connection is reused")
    }

    /// A request given up on must not arrive later: the client resets the connection, so the
    /// kernel drops what it had not sent yet (closed the orderly way, it would go on sending,
    /// to a partitioned host until the link heals, and the receiver would apply a write its
    /// caller had already settled). Here the receiver reads nothing until the client has given
    /// up; then it finds the stream reset, not a whole request followed by an orderly end.
    func testARequestGivenUpOnIsResetNotDeliveredLater() throws {
        let ended = Mutex<(bytes: Int, error: Int32)?>(nil)
        let server = try TestHTTPServer(loopback: { connection in
            Thread.sleep(forTimeInterval: 1)
            var bytes = 0
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = Glibc.read(connection.fd, &chunk, chunk.count)
                if count <= 0 {
                    let error = count < 0 ? errno : 0
                    ended.withLock { $0 = (bytes, error) }
                    return
                }
                bytes += count
            }
        })
        defer { server.stop() }
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 32 << 20)
        XCTAssertThrowsError(try InternalClient(InternalAddress(server.path), secret: "s")
            .send("POST", "/catalog-primary/books", body: body, timeout: .milliseconds(300))) {
            XCTAssertEqual($0 as? InternalCallError, .timeout)
        }
        let deadline = Date().addingTimeInterval(60)
        while ended.withLock({ $0 }) == nil, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let end = try XCTUnwrap(ended.withLock { $0 }, "the receiver's read never ended")
        XCTAssertEqual(end.error, ECONNRESET, "the stream ended in order after \(end.bytes) bytes: the rest of the request was still on its way")
        XCTAssertLessThan(end.bytes, body.count)
    }

    func testClosedPortIsUnreachable() throws {
        let server = try TestHTTPServer(loopback: { _ in })
        let address = InternalAddress(server.path)
        server.stop()
        XCTAssertThrowsError(try InternalClient(address, secret: "s").send("POST", "/x")) {
            XCTAssertEqual($0 as? InternalCallError, .unreachable)
        }
    }

    func testUnknownHostIsUnreachable() {
        XCTAssertThrowsError(try InternalClient(.tcp(host: "no-such-host.invalid", port: 80), secret: "s").send("GET", "/x")) {
            XCTAssertEqual($0 as? InternalCallError, .unreachable)
        }
    }

    /// A host that drops SYNs (here: a listener whose accept queue is full) fails within the
    /// connect timeout, not after the kernel's SYN retries.
    func testConnectToAHostThatNeverAnswersGivesUp() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) + getsockname(listener, $0, &length) }
        }
        XCTAssertEqual(listen(listener, 0), 0)
        let port = UInt16(bigEndian: address.sin_port)
        // Fill the accept queue; nothing accepts, so later SYNs are dropped.
        var fillers: [Int32] = []
        defer { fillers.forEach { close($0) } }
        for _ in 0..<4 {
            if let fd = try? Posix.connectTCP(host: "127.0.0.1", port: port, by: Deadline(after: .milliseconds(200))) { fillers.append(fd) }
        }
        let start = Date()
        XCTAssertThrowsError(try InternalClient(.tcp(host: "127.0.0.1", port: port), secret: "s").send("GET", "/x")) {
            XCTAssertEqual($0 as? InternalCallError, .unreachable)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 60, "gave up (a generous bound: without a connect timeout the SYN is retried for minutes)")
    }
}
