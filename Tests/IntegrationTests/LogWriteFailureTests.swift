import Foundation
import XCTest

/// A log that cannot be written (a full disk) never stops a process: `Log` drops the line.
/// Swift's `FileHandle.write` traps on a failed write, so `bazar-front 2>/dev/full` died with
/// SIGILL at its first line, and 27 refused `GET /metrics` killed a front on a full disk.
final class LogWriteFailureTests: XCTestCase {
    private let binaries = URL(fileURLWithPath: ProcessInfo.processInfo.environment["BAZAR_TEST_BIN"]
        ?? Stack.repository.appendingPathComponent(".build/debug").path)

    /// Each program, given a bad command line and `/dev/full` as stderr, exits 2 as it should
    /// (its error line lost), not on a signal.
    func testBadCommandLineWithStderrOnDevFullExits2() throws {
        for program in ["bazar-front", "bazar-catalog", "bazar-order"] {
            let process = Process()
            process.executableURL = binaries.appendingPathComponent(program)
            process.arguments = ["--no-such-flag", "x"]
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/full"))
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .exit, "\(program) died on signal \(process.terminationStatus)")
            XCTAssertEqual(process.terminationStatus, 2, program)
        }
    }

    /// A front whose stderr is `/dev/full` answers 40 unauthenticated `GET /metrics` (each a
    /// refusal it logs) with 401 and still runs afterwards.
    func testFrontWithStderrOnDevFullKeepsServing() throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("bazar-log-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("front.sock").path
        for (name, text) in [("secret", "log-write-failure-tests-secret"), ("token", "log-write-failure-token")] {
            let path = directory.appendingPathComponent(name).path
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data((text + "\n").utf8), attributes: [.posixPermissions: 0o600]))
        }
        let front = Process()
        front.executableURL = binaries.appendingPathComponent("bazar-front")
        front.arguments = ["--socket", socket, "--name", "front", "--threads", "4",
                           "--internal", directory.appendingPathComponent("none.sock").path,
                           "--admin-token-file", directory.appendingPathComponent("token").path,
                           "--internal-secret-file", directory.appendingPathComponent("secret").path]
        front.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/full"))
        front.standardOutput = FileHandle.nullDevice
        try front.run()
        defer { if front.isRunning { front.terminate(); front.waitUntilExit() } }
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: socket) && front.isRunning && Date() < deadline { usleep(50_000) }
        var refused = 0
        for _ in 0..<40 where front.isRunning {
            if try fastCGIGet("/metrics", socket: socket).hasPrefix("Status: 401") { refused += 1 }
        }
        XCTAssertEqual(refused, 40, "every unauthenticated /metrics is refused with 401")
        XCTAssertTrue(front.isRunning, "the front died (status \(front.isRunning ? 0 : front.terminationStatus)) with stderr on /dev/full")
    }

    /// One FastCGI GET through libfcgi's `cgi-fcgi`: the response as the responder wrote it.
    private func fastCGIGet(_ path: String, socket: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/cgi-fcgi")
        process.arguments = ["-bind", "-connect", socket]
        process.environment = ["REQUEST_METHOD": "GET", "REQUEST_URI": path, "SCRIPT_NAME": path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: output, as: UTF8.self)
    }
}
