import Foundation
import XCTest

/// Starting, stopping and restarting processes.
final class LifecycleTests: XCTestCase {
    func testSIGTERMStopsAResponderWithinASecondAndRestartRecovers() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        for name in ["front", "catalog-2", "order-1"] {
            let pid = try XCTUnwrap(stack.pid(name))
            XCTAssertEqual(kill(pid, SIGTERM), 0)
            let deadline = Date().addingTimeInterval(1)
            while kill(pid, 0) == 0 && Date() < deadline { usleep(10_000) }
            XCTAssertNotEqual(kill(pid, 0), 0, "\(name) still runs a second after SIGTERM")
            XCTAssertEqual(try stack.ctl("start", name).0, 0)
        }
        _ = try await stack.waitUntilLevel()
        let info = try await stack.client.get("/info/1")
        XCTAssertEqual(info.status, 200)
    }

    func testDownLeavesNoProcessBehind() async throws {
        let stack = try Stack()
        _ = try await stack.waitUntilLevel()
        let pids = ["front", "catalog-1", "catalog-2", "order-1", "order-2", "nginx"].compactMap(stack.pid)
        XCTAssertEqual(pids.count, 6)
        XCTAssertEqual(try stack.ctl("status").0, 0)
        XCTAssertEqual(try stack.ctl("down").0, 0)
        for pid in pids { XCTAssertNotEqual(kill(pid, 0), 0, "pid \(pid) survived make down") }
        let (_, processes) = try stack.run("/bin/ps", ["-eo", "args"])
        XCTAssertFalse(processes.contains(stack.variables.path), "a process still names the stack's directory")
        XCTAssertNotEqual(try stack.ctl("status").0, 0)
        stack.stop()
    }
}
