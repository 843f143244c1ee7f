import Foundation
import XCTest

/// API.md: "One instance per role: two processes can never act as the same replica at once
/// (not after a failed start, not on a full disk)." Each tier holds an exclusive lock beside
/// its data (the front: beside its sockets) from before it serves; bazarctl stops whatever acts
/// as a process without being named by its pid file before starting it, and at `down`.
final class OneInstanceTests: StackTestCase {
    private static let programs = ["front": "bazar-front", "catalog-1": "bazar-catalog", "catalog-2": "bazar-catalog",
                                   "order-1": "bazar-order", "order-2": "bazar-order"]

    /// A second catalog-1, order-1 and front started by hand with the running one's command
    /// line (on a socket of its own) exits 1 at once; the first keeps its pid and serves.
    func testSecondInstanceStartedByHandExits() async throws {
        let stack = try stack
        _ = try await stack.waitUntilLevel()
        for name in ["catalog-1", "order-1", "front"] {
            let first = try XCTUnwrap(stack.pid(name), name)
            var arguments = Processes.commandLine(first).split(separator: " ").map(String.init)
            let program = arguments.removeFirst()
            arguments += ["--socket", stack.variables.appendingPathComponent("run/second-\(name).sock").path]
            let second = Process()
            second.executableURL = URL(fileURLWithPath: program)
            second.arguments = arguments
            second.standardOutput = FileHandle.nullDevice
            second.standardError = FileHandle.nullDevice
            try second.run()
            let deadline = Date().addingTimeInterval(20)
            while second.isRunning && Date() < deadline { try await Task.sleep(nanoseconds: 50_000_000) }
            let exited = !second.isRunning
            if !exited { second.terminate(); second.waitUntilExit() }
            XCTAssertTrue(exited, "a second \(name) started by hand was still running after 20 s")
            if exited { XCTAssertEqual(second.terminationStatus, 1, "a second \(name) exits 1") }
            XCTAssertEqual(stack.pid(name), first, name)
            XCTAssertTrue(Processes.isAlive(first), "the first \(name) still runs")
        }
        _ = try await stack.waitUntilLevel()
        try await expectAcknowledgedWritesAreRead(stack)
    }

    /// With the pid files of catalog-1, order-2 and the front gone (as when a full disk kept
    /// them from being written), the supervisor does not start a second instance beside the
    /// running one: afterwards exactly one process acts as each, the one its pid file names,
    /// and every uncached read sees the latest acknowledged update.
    func testLostPidFileNeverLeadsToTwoInstances() async throws {
        let stack = try stack
        _ = try await stack.waitUntilLevel()
        for name in ["catalog-1", "order-2", "front"] {
            let old = try XCTUnwrap(stack.pid(name), name)
            try FileManager.default.removeItem(at: stack.variables.appendingPathComponent("run/\(name).pid"))
            let new = try await stack.waitForNewPid(name, old: old, timeout: 30)
            XCTAssertNotNil(new, "\(name)'s pid file never named a new live process")
            try await Task.sleep(nanoseconds: 1_000_000_000)
            XCTAssertEqual(Processes.matching(Self.programs[name]!, "--name \(name) ", stack.variables.path), stack.pid(name).map { [$0] } ?? [],
                           "one \(name), the one its pid file names")
        }
        _ = try await stack.waitUntilLevel()
        try await expectAcknowledgedWritesAreRead(stack)
    }

    /// Updates of book 3, each followed by uncached reads: none answers an older version.
    private func expectAcknowledgedWritesAreRead(_ stack: Stack) async throws {
        for price in [31.5, 32.5, 33.5] {
            let update = try await stack.client.send("PUT", "/update/3", headers: ["Authorization": "Bearer \(Stack.adminToken)"],
                                                     body: Data(#"{"price": \#(price)}"#.utf8))
            XCTAssertEqual(update.status, 200)
            let version = update.json["version"].int ?? 0
            for _ in 0..<10 {
                let read = try await stack.client.get("/info/3", headers: ["Cache-Control": "no-cache"])
                XCTAssertEqual(read.status, 200)
                XCTAssertGreaterThanOrEqual(read.json["version"].int ?? -1, version, "an uncached read older than an acknowledged update")
            }
        }
        let bought = try await stack.client.send("POST", "/purchase/4")
        XCTAssertEqual(bought.status, 200)
    }
}

/// `bazarctl down` stops every process of the deployment, even those whose pid files are gone.
final class DownWithoutPidFilesTests: XCTestCase {
    func testDownStopsProcessesWhosePidFilesAreGone() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let names = ["front", "catalog-1", "catalog-2", "order-1", "order-2", "nginx", "nginx-internal"]
        let pids = names.compactMap(stack.pid)
        XCTAssertEqual(pids.count, names.count)
        for name in names { try FileManager.default.removeItem(at: stack.variables.appendingPathComponent("run/\(name).pid")) }
        XCTAssertEqual(try stack.ctl("down").0, 0)
        for (name, pid) in zip(names, pids) { XCTAssertFalse(Processes.isAlive(pid), "\(name) (pid \(pid)) survived down") }
        XCTAssertEqual(Processes.matching(stack.variables.path), [], "a process still names the stack's directory")
    }
}
