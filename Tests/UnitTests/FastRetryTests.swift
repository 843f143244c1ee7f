import BazarCore
import TierCalls
import XCTest

final class FastRetryTests: XCTestCase {
    func testAFastFailureNotAppliedIsTriedOnceMoreUnderANewAttempt() {
        var attempts: [String] = []
        let answer = FastRetry.write(attempt: "a", tier: "front") { attempt in
            attempts.append(attempt)
            return (attempts.count, true)
        }
        XCTAssertEqual(attempts, ["a.front.1", "a.front.2"], "once more, not twice; the tries are siblings under the attempt")
        XCTAssertEqual(answer, 2, "the second try's answer")
    }

    func testAnAppliedOrUnknownOutcomeIsNotTriedAgain() {
        var attempts: [String] = []
        _ = FastRetry.write(attempt: "a", tier: "front") { attempt in
            attempts.append(attempt)
            return (0, false)
        }
        XCTAssertEqual(attempts, ["a.front.1"])
    }

    /// A slow first try leaves no time for a second within the caller's timeout.
    func testASlowFailureIsNotTriedAgain() {
        var attempts: [String] = []
        _ = FastRetry.write(attempt: "a", tier: "order-1") { attempt in
            attempts.append(attempt)
            Thread.sleep(forTimeInterval: FastRetry.window.seconds + 0.1)
            return (0, true)
        }
        XCTAssertEqual(attempts, ["a.order-1.1"])
    }
}
