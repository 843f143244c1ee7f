import Foundation
import Glibc
@testable import InternalHTTP
import XCTest

/// An internal call's timeout is a deadline for the whole call, not for each socket read: a peer
/// that keeps sending a byte now and then, or a kept connection that fails late and is retried,
/// cannot stretch the call past it.
final class CallDeadlineTests: XCTestCase {
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

    /// The answer comes one byte each 200 ms, 12 s in all, to a call given 1 s: each read gets a
    /// byte long before a per-read timeout of 1 s would run out. The call must fail with a
    /// timeout and stop reading, leaving most of the answer unsent.
    func testAnswerTrickledSlowerThanTheDeadlineTimesOut() throws {
        let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789".utf8)
        let unsent = LockedBox(answer.count)
        let trickleEnded = DispatchSemaphore(value: 0)
        let server = try TestHTTPServer(path: socketPath) { connection in
            defer { trickleEnded.signal() }
            guard connection.readRequest() != nil else { return }
            for byte in answer {
                usleep(200_000)
                var byte = byte
                guard Glibc.send(connection.fd, &byte, 1, Int32(MSG_NOSIGNAL)) == 1 else { return }   // the client gave up
                unsent.withLock { $0 -= 1 }
            }
        }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        XCTAssertEqual(callError { () throws(InternalCallError) in try client.send("GET", "/x", timeout: .seconds(1)) }, .timeout)
        XCTAssertEqual(trickleEnded.wait(timeout: .now() + 60), .success, "the trickler noticed the client leave")
        XCTAssertGreaterThan(unsent.withLock { $0 }, 0, "the client did not wait for the whole trickle")
    }

    /// A kept connection fails late (the server reads the request, waits, then closes it); the
    /// GET is sent again on a new connection whose answer also comes late. Each try alone fits
    /// in 1 s, both together do not: the retry gets what is left of the call's time, not a fresh 1 s.
    func testResendOnANewConnectionGetsOnlyWhatIsLeftOfTheDeadline() throws {
        let server = try TestHTTPServer(path: socketPath) { connection in
            guard connection.readRequest() != nil else { return }
            if connection.index == 1 {
                connection.answer(200, "first")
                guard connection.readRequest() != nil else { return }
                usleep(700_000)
                return   // closed with no answer
            }
            usleep(700_000)
            connection.answer(200, "late")
        }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        XCTAssertEqual(try client.send("GET", "/a").status, 200)
        XCTAssertEqual(callError { () throws(InternalCallError) in try client.send("GET", "/b", timeout: .seconds(1)) }, .timeout)
    }

    /// The peer takes the request 4 KiB each 100 ms, a 2 MiB body in over 50 s, to a call
    /// given 1 s: each write makes progress long before a per-write timeout of 1 s would run
    /// out. The call must fail with a timeout and stop writing, most of the body unsent.
    func testRequestTakenSlowerThanTheDeadlineTimesOut() throws {
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 2 * 1024 * 1024)
        let received = LockedBox(0)
        let drainEnded = DispatchSemaphore(value: 0)
        let server = try TestHTTPServer(path: socketPath) { connection in
            defer { drainEnded.signal() }
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                usleep(100_000)
                let got = recv(connection.fd, &chunk, chunk.count, 0)
                guard got > 0 else { return }   // the client gave up
                received.withLock { $0 += got }
            }
        }
        defer { server.stop() }
        let client = InternalClient(.unix(path: socketPath), secret: "test-secret")
        XCTAssertEqual(callError { () throws(InternalCallError) in try client.send("POST", "/x", body: body, timeout: .seconds(1)) },
                       .timeout)
        XCTAssertEqual(drainEnded.wait(timeout: .now() + 120), .success, "the reader noticed the client leave")
        XCTAssertLessThan(received.withLock { $0 }, body.count, "the client did not wait for the whole body to be taken")
    }
}
