import Basics
import BazarCore
import Foundation

/// One more try of a write whose try failed fast and surely was not applied. The usual cause:
/// nginx sent it on a kept connection that a crowded tier was letting go at that moment (the
/// tier closes it unread, and nginx never resends a POST), after which the settle aborted that
/// try for good. The write goes again under the same key as the tier's next try, only when the
/// first took at most `window`, so that the second still fits in the time the caller allows.
public enum FastRetry {
    /// The longest a first try may have taken to be tried again.
    public static let window: Duration = .milliseconds(300)

    /// Runs `run` with the tier's first try of `attempt` (`WriteIdentity.tryName`); when that
    /// reports not applied within `window`, runs it once more with the second. The tries are
    /// siblings: settling the first fences only it, settling `attempt` (the caller's) both.
    public static func write<Answer>(attempt: String, tier: String,
                                     _ run: (_ attempt: String) -> (answer: Answer, notApplied: Bool)) -> Answer {
        let start = Monotonic.now()
        let first = run(WriteIdentity.tryName(1, of: attempt, by: tier))
        guard first.notApplied, Monotonic.now() - start <= window.nanoseconds else { return first.answer }
        Log.info("a write failed fast and was not applied; trying it once more", [("attempt", attempt)])
        holdForTest()
        return run(WriteIdentity.tryName(2, of: attempt, by: tier)).answer
    }

    /// In a debug build only, `BAZAR_TEST_HOLD_RETRY_MS` holds the second try that long, so an
    /// integration test can have it arrive after the caller settled the attempt.
    private static func holdForTest() {
        #if DEBUG
        if let text = ProcessInfo.processInfo.environment["BAZAR_TEST_HOLD_RETRY_MS"], let milliseconds = Int(text) {
            Thread.sleep(forTimeInterval: Double(milliseconds) / 1000)
        }
        #endif
    }
}
