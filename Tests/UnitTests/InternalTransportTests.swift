import Foundation
import Glibc
@testable import InternalHTTP
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
    func testConnectToAHostThatNeverAnswersGivesUpQuickly() throws {
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
            if let fd = try? Posix.connectTCP(host: "127.0.0.1", port: port, timeout: .milliseconds(200)) { fillers.append(fd) }
        }
        let start = Date()
        XCTAssertThrowsError(try InternalClient(.tcp(host: "127.0.0.1", port: port), secret: "s").send("GET", "/x")) {
            XCTAssertEqual($0 as? InternalCallError, .unreachable)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 3, "gave up within the connect timeout")
    }
}
