import Foundation
import XCTest

/// API.md: "Logs stay bounded in size (rotated or capped)." The supervisor copy-truncates a
/// log over BAZAR_LOG_MAX_BYTES into NAME.log.1, every writer appends (O_APPEND) so it carries
/// on at the new end, and the front writes a refused token at most 10 times a second.
final class LogCapTests: StackTestCase {
    private static let cap = 16_384
    override class var stackEnvironment: [String: String] { ["BAZAR_LOG_MAX_BYTES": "\(cap)"] }

    /// front.log grown to 3× the cap (appended directly) is cut below the cap within 5 s, its
    /// tail kept in front.log.1 (at most the cap); every process writes its log with
    /// O_APPEND, so the front's next lines land at the start of the emptied file.
    func testOversizedLogIsRotated() async throws {
        let stack = try stack
        let log = stack.variables.appendingPathComponent("log")
        let front = log.appendingPathComponent("front.log")
        let handle = try FileHandle(forWritingTo: front)
        handle.seekToEndOfFile()
        let line = Data("filler line to push front.log over its cap \(String(repeating: "x", count: 60))\n".utf8)
        var filler = Data()
        while filler.count < 3 * Self.cap { filler.append(line) }
        handle.write(filler)
        try handle.close()
        XCTAssertGreaterThan(stack.fileSize("log/front.log"), 3 * Self.cap)

        let rotated = try await waitUntil(5) { stack.fileSize("log/front.log") < Self.cap && stack.fileSize("log/front.log.1") > 0 }
        XCTAssertTrue(rotated, "front.log is \(stack.fileSize("log/front.log")) bytes 5 s after passing the cap")
        XCTAssertLessThanOrEqual(stack.fileSize("log/front.log.1"), Self.cap)
        let kept = (try? String(contentsOf: log.appendingPathComponent("front.log.1"), encoding: .utf8)) ?? ""
        XCTAssertTrue(kept.contains("filler line"), "front.log.1 keeps the newest lines")

        // The front's stderr is open with O_APPEND: its next line starts the emptied file.
        let refused = try await client.send("PUT", "/update/7", headers: ["Authorization": "Bearer wrong"], body: Data(#"{"price": 2}"#.utf8))
        XCTAssertEqual(refused.status, 401)
        let written = try await waitUntil(5) {
            ((try? String(contentsOf: front, encoding: .utf8)) ?? "").contains(#"request="PUT /update/7""#)
        }
        XCTAssertTrue(written)
        XCTAssertLessThan(stack.fileSize("log/front.log"), Self.cap, "the front wrote at its old offset (no O_APPEND)")

        // Every descriptor any of the stack's processes holds on a log is open for appending.
        let master = try XCTUnwrap(stack.pid("nginx"))
        var pids: [Int32] = []
        for name in ["front", "catalog-1", "catalog-2", "order-1", "order-2", "nginx", "supervisor"] {
            pids.append(try XCTUnwrap(stack.pid(name), "\(name).pid"))
        }
        pids += Processes.children(of: master)
        for pid in pids {
            let logs = Processes.descriptors(of: pid, under: log.path)
            XCTAssertFalse(logs.isEmpty, "pid \(pid) (\(Processes.commandLine(pid))) holds no log")
            for (fd, path) in logs {
                let flags = try XCTUnwrap(Processes.openFlags(of: pid, fd: fd))
                XCTAssertNotEqual(flags & O_APPEND, 0, "pid \(pid) has \(path) open without O_APPEND (fd \(fd))")
            }
        }
    }

    /// nginx's own error lines past the cap (with the front stopped, each read logs that no
    /// front could be reached; a client's mistake, such as a 413, logs nothing since the error
    /// log is for the server's errors): nginx-error.log is cut below the cap and nginx goes on
    /// writing at the start of the file; the whole log directory stays within 2 caps per log
    /// (plus slack).
    func testNginxErrorLogIsCappedUnderRefusals() async throws {
        let stack = try stack
        let port = stack.port
        XCTAssertEqual(try stack.ctl("stop", "front").0, 0)
        // nginx itself writes past the cap (about 200 bytes a failed read), so without O_APPEND
        // its offset would stay past the cap after the cut.
        let sent = Counter()
        let started = Date()
        while sent.value < 3000, Date().timeIntervalSince(started) < 60, stack.fileSize("log/nginx-error.log.1") == 0,
              stack.fileSize("log/nginx-error.log") <= Self.cap + 2048 {
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                if (try? Self.unserved(port: port)) == 503 { sent.add() }
            }
        }
        XCTAssertTrue(stack.fileSize("log/nginx-error.log") > Self.cap || stack.fileSize("log/nginx-error.log.1") > 0,
                      "\(sent.value) failed reads did not fill nginx-error.log (\(stack.fileSize("log/nginx-error.log")) bytes)")
        let rotated = try await waitUntil(5) {
            stack.fileSize("log/nginx-error.log") < Self.cap && stack.fileSize("log/nginx-error.log.1") > 0
        }
        XCTAssertTrue(rotated, "nginx-error.log is \(stack.fileSize("log/nginx-error.log")) bytes 5 s after passing the cap")
        let before = stack.fileSize("log/nginx-error.log")
        for _ in 0..<5 { XCTAssertEqual(try Self.unserved(port: port), 503) }
        let after = stack.fileSize("log/nginx-error.log")
        XCTAssertGreaterThan(after, before, "nginx logs again after the cut")
        XCTAssertLessThan(after, Self.cap, "nginx wrote at its old offset (no O_APPEND)")

        let directory = stack.variables.appendingPathComponent("log").path
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        let total = files.map { stack.fileSize("log/\($0)") }.reduce(0, +)
        let logs = files.filter { $0.hasSuffix(".log") }.count
        XCTAssertLessThanOrEqual(total, logs * 2 * Self.cap + 64 * 1024, "log/ holds \(total) bytes: \(files)")
        XCTAssertEqual(try stack.ctl("start", "front").0, 0)
        let health = try await client.get("/health")
        XCTAssertEqual(health.status, 200)
    }

    /// 300 refused updates in a burst leave at most 10 refusal lines a second in front.log (and
    /// front.log.1), and the next refusal a second later reports how many were suppressed.
    func testRepeatedRefusalsAreRateLimited() async throws {
        let stack = try stack
        let book = Int.random(in: 100_000...999_999)   // absent: the refusal comes before the lookup
        let started = Date()
        let client = try client
        let statuses = await withTaskGroup(of: [Int].self) { group in
            for _ in 0..<10 {
                group.addTask {
                    var statuses: [Int] = []
                    for _ in 0..<30 {
                        let answer = try? await client.send("PUT", "/update/\(book)", headers: ["Authorization": "Bearer nope"], body: Data("{}".utf8))
                        statuses.append(answer?.status ?? 0)
                    }
                    return statuses
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        XCTAssertEqual(statuses, Array(repeating: 401, count: 300))
        let elapsed = Date().timeIntervalSince(started)
        try await Task.sleep(nanoseconds: 1_100_000_000)
        let last = try await client.send("PUT", "/update/\(book)", headers: ["Authorization": "Bearer nope"], body: Data("{}".utf8))
        XCTAssertEqual(last.status, 401)
        var text = ""
        let found = try await waitUntil(60) {
            text = self.logText(stack, "front")
            return text.contains("suppressed")
        }
        let lines = text.split(separator: "\n").filter { $0.contains(#"level=warn msg="refused a request without the admin token" request="PUT /update/\#(book)""#) }
        XCTAssertGreaterThan(lines.count, 0)
        XCTAssertLessThanOrEqual(Double(lines.count), 10 * (elapsed.rounded(.up) + 2),
                                 "\(lines.count) refusal lines for 301 refusals in \(elapsed) s")
        XCTAssertTrue(found, "no 'suppressed similar lines' line:\n\(text.suffix(1500))")
        XCTAssertTrue(text.contains(#"level=warn msg="suppressed similar lines" key=refused-token suppressed="#), String(text.suffix(1500)))
    }

    // MARK: - Helpers

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        var value: Int { lock.withLock { count } }
        func add() { lock.withLock { count += 1 } }
    }

    private func logText(_ stack: Stack, _ name: String) -> String {
        ["log/\(name).log.1", "log/\(name).log"].map {
            (try? String(contentsOf: stack.variables.appendingPathComponent($0), encoding: .utf8)) ?? ""
        }.joined()
    }

    private func waitUntil(_ seconds: TimeInterval, _ condition: () -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        return condition()
    }

    private static func isComplete(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return false }
        let length = text[..<end.lowerBound].split(separator: "\r\n")
            .first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) } ?? 0
        return text[end.upperBound...].utf8.count >= length
    }

    /// One request that nginx refuses (413) from its Content-Length alone, logging an error line.
    /// The status of a read sent while the front is stopped (nginx answers it itself).
    private static func unserved(port: Int) throws -> Int {
        let fd = try loopbackConnection(port: port, timeout: 2)
        defer { close(fd) }
        let request = Array("GET /info/1 HTTP/1.1\r\nHost: bazar\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        shutdown(fd, Int32(SHUT_WR))
        // Read the head and Content-Length bytes of body, no more: nginx's lingering close may
        // hold the connection open for seconds after the answer.
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !Self.isComplete(received) {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += buffer[..<count]
        }
        let text = String(decoding: received, as: UTF8.self)
        return text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    }
}
