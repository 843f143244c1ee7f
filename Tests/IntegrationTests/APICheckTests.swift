import Foundation
import XCTest

/// Every route, status, header and error code of API.md, through real nginx: the one API check
/// (`Tests/api/check.py`, which `make test-containers` also runs against the containers) run
/// against a stack on this host, with one front and with two.
final class APICheckTests: XCTestCase {
    func testTheAPIHoldsWithOneFront() throws {
        try check(fronts: 1)
    }

    func testTheAPIHoldsWithTwoFronts() throws {
        try check(fronts: 2)
    }

    /// Starts a stack with `fronts` fronts, runs the API check against it twice (the second run
    /// meets the data the first one changed, as a deployment does) and fails on any failed check.
    private func check(fronts: Int) throws {
        let stack = try Stack(["BAZAR_FRONTS": "\(fronts)"])
        defer { stack.stop() }
        let script = Stack.repository.appendingPathComponent("Tests/api/check.py").path
        for run in 1...2 {
            let (status, output) = try stack.run("/usr/bin/python3", [script, "\(stack.port)", Stack.adminToken, "--fronts", "\(fronts)"])
            let failures = output.split(separator: "\n").filter { !$0.hasPrefix("api: ok") }
            XCTAssertEqual(status, 0, "run \(run) with \(fronts) front(s):\n" + failures.joined(separator: "\n"))
        }
    }
}
