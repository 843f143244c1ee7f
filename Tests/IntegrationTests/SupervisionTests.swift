import Foundation
import XCTest

/// API.md: "A process that dies without being stopped is started again by the stack itself
/// within a few seconds (its pid file then holds the new pid)." `bazarctl up` starts a
/// supervisor; `bazarctl stop` still stops, and `down` leaves nothing behind.
final class SupervisionTests: StackTestCase {
    private static let tiers = ["front", "catalog-1", "catalog-2", "order-1", "order-2"]
    private static let binaries = ["front": "bazar-front", "catalog-1": "bazar-catalog", "catalog-2": "bazar-catalog",
                                   "order-1": "bazar-order", "order-2": "bazar-order"]

    /// `kill -9` of each tier in turn: within 5 s its pid file names a new live process of the
    /// same program, and the stack is healthy again. For the front, a concurrent
    /// `bazarctl start front` races the supervisor: exactly one front runs afterwards.
    func testKilledTierIsStartedAgain() async throws {
        let stack = try stack
        _ = try await stack.waitUntilLevel()
        for name in Self.tiers {
            let old = try XCTUnwrap(stack.pid(name), name)
            XCTAssertEqual(kill(old, SIGKILL), 0, name)
            if name == "front" {
                try await Task.sleep(nanoseconds: 700_000_000)   // about when the supervisor starts it
                XCTAssertEqual(try stack.ctl("start", "front").0, 0)
            }
            let new = try await stack.waitForNewPid(name, old: old, timeout: 30)
            XCTAssertNotNil(new, "\(name) was not started again within 30 s of kill -9")
            guard let new else { continue }
            // The pid file names the supervisor's child from its fork, a moment before it execs
            // the tier (at load 10 the test once saw the fork).
            let deadline = Date().addingTimeInterval(60)
            while !Processes.commandLine(new).contains(Self.binaries[name]!) && Date() < deadline {
                try await Task.sleep(nanoseconds: 50_000_000)
            }
            XCTAssertTrue(Processes.commandLine(new).contains(Self.binaries[name]!), "\(name): pid \(new) is \(Processes.commandLine(new))")
            let healthy = try await stack.waitUntilHealthy(timeout: 60)
            XCTAssertTrue(healthy, "/health is not 200 within 60 s of \(name) coming back")
            if name == "front" {
                try await Task.sleep(nanoseconds: 1_500_000_000)
                let fronts = Processes.matching("bazar-front", stack.variables.path)
                XCTAssertEqual(fronts, [stack.pid("front") ?? -1], "one front, the one in front.pid")
            }
        }
        _ = try await stack.waitUntilLevel()
        let info = try await client.get("/info/1")
        XCTAssertEqual(info.status, 200)
        let bought = try await client.send("POST", "/purchase/2")
        XCTAssertEqual(bought.status, 200, "a purchase after every tier was killed once")
    }

    /// `kill -9` of each nginx instance's master (the public one, then the internal one): a new
    /// master (waited for up to a generous 30 s: the supervisor's back-off is 0.5 s, but a busy
    /// machine is slow), the old master's workers are gone, and the API answers through the new
    /// one (a purchase needs the internal instance).
    func testKilledNginxMasterIsStartedAgain() async throws {
        let stack = try stack
        _ = try await stack.waitUntilLevel()
        for (index, instance) in ["nginx", "nginx-internal"].enumerated() {
            let master = try XCTUnwrap(stack.pid(instance))
            let workers = Processes.children(of: master)
            XCTAssertFalse(workers.isEmpty, "\(instance) has workers")
            XCTAssertEqual(kill(master, SIGKILL), 0)
            let new = try await stack.waitForNewPid(instance, old: master, timeout: 30)
            XCTAssertNotNil(new, "\(instance) was not started again within 30 s of kill -9 of its master")
            if let new {
                // nginx renames its process to "nginx: master process …" a moment after it starts
                // (waited for up to a generous 60 s).
                let deadline = Date().addingTimeInterval(60)
                while !Processes.commandLine(new).hasPrefix("nginx: master") && Date() < deadline { usleep(20_000) }
                XCTAssertTrue(Processes.commandLine(new).hasPrefix("nginx: master"), Processes.commandLine(new))
            }
            for worker in workers { XCTAssertFalse(Processes.isAlive(worker), "\(instance)'s old worker \(worker) still runs") }
            let healthy = try await stack.waitUntilHealthy(timeout: 60)
            XCTAssertTrue(healthy, "/health is not 200 within 60 s of \(instance) coming back")
            let info = try await client.get("/info/3")
            XCTAssertEqual(info.status, 200)
            let bought = try await client.send("POST", "/purchase/\(5 + index)")
            XCTAssertEqual(bought.status, 200, "a purchase after \(instance) came back")
        }
    }

    /// `bazarctl stop order-2` stays stopped (for 4 s) while the supervisor keeps working (a
    /// killed order-1 comes back meanwhile); `bazarctl start order-2` brings it back.
    func testStoppedProcessStaysStoppedUntilStarted() async throws {
        let stack = try stack
        _ = try await stack.waitUntilLevel()
        let stopped = try XCTUnwrap(stack.pid("order-2"))
        XCTAssertEqual(try stack.ctl("stop", "order-2").0, 0)
        XCTAssertFalse(Processes.isAlive(stopped))
        let order1 = try XCTUnwrap(stack.pid("order-1"))
        XCTAssertEqual(kill(order1, SIGKILL), 0)
        let deadline = Date().addingTimeInterval(4)
        while Date() < deadline {
            XCTAssertTrue(Processes.matching("bazar-order", "--name order-2", stack.variables.path).isEmpty,
                          "a stopped order-2 was started again")
            if let pid = stack.pid("order-2") { XCTAssertFalse(Processes.isAlive(pid), "order-2.pid names a live \(pid)") }
            try await Task.sleep(nanoseconds: 250_000_000)
        }
        let back = try await stack.waitForNewPid("order-1", old: order1, timeout: 30)
        XCTAssertNotNil(back, "the supervisor did not start the killed order-1 again (while order-2 stayed stopped)")
        let (status, output) = try stack.ctl("status")
        XCTAssertNotEqual(status, 0, output)
        XCTAssertTrue(output.contains("supervisor"), output)

        XCTAssertEqual(try stack.ctl("start", "order-2").0, 0)
        let started = try XCTUnwrap(stack.pid("order-2"))
        XCTAssertTrue(Processes.isAlive(started))
        _ = try await stack.waitUntilLevel()
        let (after, listing) = try stack.ctl("status")
        XCTAssertEqual(after, 0, listing)
    }

    /// `bazarctl down`, right after a tier was killed: no process of the stack is left (the
    /// supervisor, its launchers and what it might have started included), and nothing comes
    /// back 2 s later.
    func testDownStopsTheSupervisorAndLeavesNoProcess() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let supervisor = try XCTUnwrap(stack.pid("supervisor"), "run/supervisor.pid")
        XCTAssertTrue(Processes.isAlive(supervisor))
        var pids = ["front", "catalog-1", "catalog-2", "order-1", "order-2", "nginx", "nginx-internal"].compactMap(stack.pid)
        XCTAssertEqual(pids.count, 7)
        pids += Processes.children(of: try XCTUnwrap(stack.pid("nginx")))
        pids += Processes.children(of: try XCTUnwrap(stack.pid("nginx-internal")))
        kill(try XCTUnwrap(stack.pid("catalog-2")), SIGKILL)
        try await Task.sleep(nanoseconds: 900_000_000)   // the supervisor is about to start it again
        pids += stack.pid("catalog-2").map { [$0] } ?? []
        XCTAssertEqual(try stack.ctl("down").0, 0)
        for pid in pids + [supervisor] { XCTAssertFalse(Processes.isAlive(pid), "pid \(pid) survived down") }
        try await Task.sleep(nanoseconds: 2_000_000_000)
        XCTAssertEqual(Processes.matching(stack.variables.path), [], "a process still names the stack's directory")
        XCTAssertFalse(Processes.isAlive(supervisor))
        XCTAssertNil(stack.pid("supervisor"), "run/supervisor.pid outlives down")
        for name in ["front", "catalog-1", "catalog-2", "order-1", "order-2", "nginx", "nginx-internal"] {
            XCTAssertFalse(stack.pid(name).map(Processes.isAlive) ?? false, "\(name) runs after down")
        }
        let (status, output) = try stack.ctl("status")
        XCTAssertNotEqual(status, 0, output)
    }
}
