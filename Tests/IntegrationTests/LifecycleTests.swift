import Foundation
import XCTest

/// Starting, stopping and restarting processes.
final class LifecycleTests: XCTestCase {
    /// SIGTERM stops a responder (waited for up to a generous 60 s, which bounds only a hang:
    /// one that ignored SIGTERM, or blocked in accept until a request came, never stops here).
    func testSIGTERMStopsAResponderAndRestartRecovers() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        for name in ["front", "catalog-2", "order-1"] {
            let pid = try XCTUnwrap(stack.pid(name))
            XCTAssertEqual(kill(pid, SIGTERM), 0)
            let deadline = Date().addingTimeInterval(60)
            while kill(pid, 0) == 0 && Date() < deadline { usleep(10_000) }
            XCTAssertNotEqual(kill(pid, 0), 0, "\(name) still runs 60 s after SIGTERM")
            XCTAssertEqual(try stack.ctl("start", name).0, 0)
        }
        _ = try await stack.waitUntilLevel()
        let info = try await stack.client.get("/info/1")
        XCTAssertEqual(info.status, 200)
    }

    func testDownLeavesNoProcessBehind() async throws {
        let stack = try Stack()
        _ = try await stack.waitUntilLevel()
        let pids = ["front", "catalog-1", "catalog-2", "order-1", "order-2", "nginx", "nginx-internal"].compactMap(stack.pid)
        XCTAssertEqual(pids.count, 7)
        XCTAssertEqual(try stack.ctl("status").0, 0)
        XCTAssertEqual(try stack.ctl("down").0, 0)
        for pid in pids { XCTAssertNotEqual(kill(pid, 0), 0, "pid \(pid) survived make down") }
        let (_, processes) = try stack.run("/bin/ps", ["-eo", "args"])
        XCTAssertFalse(processes.contains(stack.variables.path), "a process still names the stack's directory")
        XCTAssertNotEqual(try stack.ctl("status").0, 0)
        stack.stop()
    }

    func testEachProgramRefusesABadCommandLineNamingTheFlag() throws {
        let programs = ["bazar-front", "bazar-catalog", "bazar-order"]
        let cases: [(program: String, arguments: [String], named: String)] =
            programs.map { ($0, ["--no-such-flag", "1"], "unknown flag --no-such-flag") } + [
                ("bazar-catalog", ["--name", "catalog-1", "--role", "primry", "--peer", "catalog-2", "--db", "/nonexistent/x.db",
                                   "--internal", "/nonexistent/s.sock"], "--role must be one of primary, backup (got 'primry')"),
                ("bazar-front", ["--threads", "0"], "--threads must be an integer in 1...1024 (got '0')"),
            ]
        for (program, arguments, named) in cases {
            let process = Process()
            process.executableURL = Stack.repository.appendingPathComponent(".build/debug/\(program)")
            process.arguments = arguments
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 2, "\(program) \(arguments)")
            XCTAssertTrue(output.contains(#"level=error msg="bad command line or configuration" program=\#(program) error="\#(named)"#),
                          "\(program) said: \(output)")
        }
    }
}
