import Basics
@testable import Catalog
@testable import TierCalls
import BazarCore
import Wire
import XCTest

/// An update's key outlives every answer that may still wait for it: the primary keeps it for
/// a count of writes and a duration on its own clock, and a caller believes "not applied" only
/// for a shorter duration on its own.
final class KeyRetentionTests: XCTestCase {
    private let second: Int64 = 1_000_000_000

    func testAKeyIsKeptForTheDurationWhateverTheCount() {
        var retention = KeyRetention(applied: 0, now: 0, countHorizon: 10, age: .seconds(600))
        retention.committed(through: 5_000, now: 2 * second)
        // 5,000 writes, far past the count horizon, but not 600 s: nothing is forgotten.
        XCTAssertNil(retention.forgettable(newest: 5_000, now: 599 * second))
        // 600 s after the start, what was committed before it (nothing) may go.
        XCTAssertNil(retention.forgettable(newest: 5_000, now: 600 * second))
        // 600 s after the commit of 1...5000, they may go.
        XCTAssertEqual(retention.forgettable(newest: 5_000, now: 602 * second), 4_990, "and 10 writes old")
        XCTAssertNil(retention.forgettable(newest: 5_000, now: 700 * second), "nothing more than last time")
    }

    func testAKeyIsKeptForTheCountWhateverTheDuration() {
        var retention = KeyRetention(applied: 100, now: 0, countHorizon: 50, age: .seconds(1))
        retention.committed(through: 120, now: 2 * second)
        XCTAssertEqual(retention.forgettable(newest: 120, now: 10 * second), 70, "only those 50 writes old")
        retention.committed(through: 400, now: 11 * second)
        XCTAssertEqual(retention.forgettable(newest: 400, now: 20 * second), 350)
    }

    func testKeysFromBeforeAStartAreKeptAsIfCommittedAtTheStart() {
        var retention = KeyRetention(applied: 1_000, now: 50 * second, countHorizon: 0, age: .seconds(600))
        retention.committed(through: 1_001, now: 60 * second)
        XCTAssertNil(retention.forgettable(newest: 1_001, now: 600 * second))
        XCTAssertEqual(retention.forgettable(newest: 1_001, now: 650 * second), 1_001)
    }

    func testCheckpointsAreAtMostOneASecond() {
        var retention = KeyRetention(applied: 0, now: 0, countHorizon: 0, age: .seconds(10))
        retention.committed(through: 10, now: second / 2)          // within the start's second: not noted
        retention.committed(through: 20, now: 3 * second / 2)
        // Keys 1...10 count as committed at 1.5 s (later than they were): kept longer, never shorter.
        XCTAssertNil(retention.forgettable(newest: 20, now: 10 * second))
        XCTAssertEqual(retention.forgettable(newest: 20, now: 23 * second / 2), 20)
    }

    func testACallerBelievesNotAppliedOnlyWhileThePrimaryStillRemembers() {
        let trusted = WriteIdentity.settleTrustedFor.nanoseconds
        XCTAssertLessThan(trusted, WriteIdentity.keyRetention.nanoseconds)
        guard case .notApplied = Settlement.decided(SettleAnswer(applied: false), sentFor: trusted - 1) else {
            return XCTFail("a prompt settle's not applied is believed")
        }
        guard case .unknown = Settlement.decided(SettleAnswer(applied: false), sentFor: trusted) else {
            return XCTFail("a settle that late may have found a forgotten key: unknown, never 503")
        }
        guard case .applied = Settlement.decided(SettleAnswer(applied: true), sentFor: 10 * trusted) else {
            return XCTFail("applied is applied")
        }
    }
}
