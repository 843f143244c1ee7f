@testable import Order
import XCTest

final class OrderBatchesTests: XCTestCase {
    func testAPurchaseJoiningWhileNoneRunsLeadsAloneAtOnce() {
        var batches = OrderBatches<Int>()
        XCTAssertEqual(batches.join(1, bytes: 100), [1])
        XCTAssertTrue(batches.running)
        XCTAssertNil(batches.finish())
        XCTAssertFalse(batches.running)
        XCTAssertEqual(batches.join(2, bytes: 100), [2], "an idle group starts the next purchase's batch at once")
    }

    func testPurchasesJoiningWhileABatchRunsMakeTheNextBatchLedByTheOldest() {
        var batches = OrderBatches<Int>()
        XCTAssertEqual(batches.join(1, bytes: 100), [1])
        for member in 2...5 { XCTAssertNil(batches.join(member, bytes: 100), "a purchase waits while a batch runs") }
        XCTAssertEqual(batches.waitingCount, 4)
        XCTAssertEqual(batches.finish(), [2, 3, 4, 5])
        XCTAssertEqual(batches.waitingCount, 0)
        XCTAssertTrue(batches.running, "the next batch runs until it finishes")
        XCTAssertNil(batches.join(6, bytes: 100))
        XCTAssertEqual(batches.finish(), [6])
        XCTAssertNil(batches.finish())
    }

    func testABatchHoldsAtMostTheMaximumCount() {
        var batches = OrderBatches<Int>()
        XCTAssertEqual(batches.join(0, bytes: 1), [0])
        let count = OrderBatches<Int>.maximumCount + 3
        for member in 1...count { XCTAssertNil(batches.join(member, bytes: 1)) }
        XCTAssertEqual(batches.finish(), Array(1...OrderBatches<Int>.maximumCount))
        XCTAssertEqual(batches.finish(), Array((OrderBatches<Int>.maximumCount + 1)...count))
    }

    func testABatchStaysWithinThePushBudgetButAlwaysHoldsOne() {
        let budget = OrderBatches<Int>.budget
        var batches = OrderBatches<Int>()
        XCTAssertEqual(batches.join(0, bytes: 1), [0])
        XCTAssertNil(batches.join(1, bytes: budget / 2))
        XCTAssertNil(batches.join(2, bytes: budget / 2))
        XCTAssertNil(batches.join(3, bytes: 1))
        XCTAssertNil(batches.join(4, bytes: budget + 1))
        XCTAssertNil(batches.join(5, bytes: 1))
        XCTAssertEqual(batches.finish(), [1, 2], "two halves fill the budget")
        XCTAssertEqual(batches.finish(), [3], "the next order would pass the budget")
        XCTAssertEqual(batches.finish(), [4], "an order over the budget alone still goes, alone")
        XCTAssertEqual(batches.finish(), [5])
        XCTAssertNil(batches.finish())
    }

    func testAWaitingMemberLeavesUnlessABatchAlreadyHoldsIt() {
        final class Take {}
        let (first, second, third) = (Take(), Take(), Take())
        var batches = OrderBatches<Take>()
        XCTAssertEqual(batches.join(first, bytes: 10)?.count, 1)
        XCTAssertNil(batches.join(second, bytes: 10))
        XCTAssertNil(batches.join(third, bytes: 10))
        XCTAssertTrue(batches.leave(second), "a member still waiting leaves")
        XCTAssertFalse(batches.leave(second), "and only once")
        let next = batches.finish()
        XCTAssertEqual(next?.count, 1)
        XCTAssertTrue(next?[0] === third)
        XCTAssertFalse(batches.leave(third), "a member a batch holds stays in it")
    }
}
