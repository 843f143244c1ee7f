import BazarCore
@testable import Catalog
import Foundation
import XCTest

final class FrontLeasesTests: XCTestCase {
    func testGrantsRenewAndAnnounce() {
        let leases = FrontLeases(applied: 4)
        XCTAssertEqual(leases.grant("front")?.fresh, true)
        XCTAssertEqual(leases.grant("front")?.fresh, false, "a renewal of a live lease")
        XCTAssertEqual(leases.announce(7), ["front"])
        XCTAssertEqual(leases.grant("front-2")?.announced, 7, "a new front learns the newest write announced")
        XCTAssertEqual(leases.announce(3), ["front", "front-2"])
        XCTAssertEqual(leases.grant("front")?.announced, 7)
    }

    func testAFrontThatMissedAWriteIsWaitedOutThenLeasedFresh() {
        let leases = FrontLeases(applied: 0)
        let start = Monotonic.now()
        XCTAssertNotNil(leases.grant("front"))
        let waiter = Thread { leases.waitOut("front") }
        waiter.start()
        usleep(100_000)
        XCTAssertNil(leases.grant("front"), "no renewal while it is waited out")
        leases.waitOut("front")
        XCTAssertGreaterThanOrEqual(Monotonic.now() - start, FrontLeases.duration.nanoseconds)
        XCTAssertEqual(leases.grant("front")?.fresh, true)
        XCTAssertEqual(leases.announce(1), ["front"])
    }
}
