import Foundation
import XCTest

/// API.md: "A process that dies without being stopped is started again by the stack itself
/// within a few seconds (its pid file then holds the new pid)." Every kind of process, killed
/// with nothing but the supervisor to start it again: this test never starts anything itself
/// (a test that does cannot see that the supervisor does not; a front the supervisor could not
/// start answered 503 for good, unseen, since d8f5553).
final class SupervisorAloneTests: StackTestCase {
    override class var stackEnvironment: [String: String] { ["BAZAR_FRONTS": "2"] }

    private static let programs = ["front": "bazar-front", "front-2": "bazar-front", "catalog-1": "bazar-catalog",
                                   "catalog-2": "bazar-catalog", "order-1": "bazar-order", "order-2": "bazar-order",
                                   "nginx": "nginx: master", "nginx-internal": "nginx: master"]

    /// `kill -9` of each kind in turn (both fronts, both catalogs, both order replicas, both
    /// nginx instances' masters): its pid file comes to name a new live process of the same program, exactly one
    /// process acts under that name, and the API serves reads and writes again (a write retried
    /// under one key until it is bought).
    func testEveryKindOfProcessIsStartedAgainBySupervisorAlone() async throws {
        let stack = try stack
        _ = try await stack.waitUntilLevel()
        for name in ["front", "front-2", "catalog-1", "catalog-2", "order-1", "order-2", "nginx", "nginx-internal"] {
            let old = try XCTUnwrap(stack.pid(name), name)
            XCTAssertEqual(kill(old, SIGKILL), 0, name)
            let new = try await stack.waitForNewPid(name, old: old, timeout: 30)
            XCTAssertNotNil(new, "\(name) was not started again within 30 s of kill -9 (see log/supervisor.log)")
            guard let new else { continue }
            let program = Self.programs[name]!
            let deadline = Date().addingTimeInterval(60)   // nginx renames its master a moment after it starts
            while !Processes.commandLine(new).contains(program) && Date() < deadline { try await Task.sleep(nanoseconds: 50_000_000) }
            XCTAssertTrue(Processes.commandLine(new).contains(program), "\(name): pid \(new) is \(Processes.commandLine(new))")
            if !name.hasPrefix("nginx") {
                XCTAssertEqual(Processes.matching(program, "--name \(name) ", stack.variables.path), [new],
                               "one \(name), the one in its pid file")
            }
            _ = try await stack.waitUntilLevel()
            let read = try await client.get("/info/1", headers: ["Cache-Control": "no-cache"])
            XCTAssertEqual(read.status, 200, "a read after \(name) came back")
            // A write may answer 503 (nothing bought) while the primary waits out the lease of
            // a front that died: writes resume, which a retry under one key sees at any speed.
            let (bought, _) = await stack.client.buyRetrying(2, attempts: 600)
            XCTAssertEqual(bought?.status, 200, "a purchase after \(name) came back (retried for 30 s)")
        }
    }
}
