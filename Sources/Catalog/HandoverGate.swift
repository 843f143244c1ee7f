import Basics
import BazarCore
import Foundation
import Synchronization

/// The writes of a primary that hands its role over (`bazarctl switchover`): once the gate
/// closes, a new write waits at it while the writes already in flight finish; when the role
/// has been handed over the waiting writes are refused as not sent (nginx passes them to the
/// new primary), and when the hand-over fails they go on here.
final class HandoverGate: Sendable {
    private struct State {
        var closing = false
        var handedOver = false
        var inFlight = 0
    }

    private let state = Mutex(State())

    /// Whether a hand-over is under way or done (no front lease is granted then).
    var isClosing: Bool { state.withLock { $0.closing } }

    /// Lets a write in (true), after waiting out a hand-over under way; false once the role was handed over.
    func enter() -> Bool {
        while true {
            let decided = state.withLock { state -> Bool? in
                if state.handedOver { return false }
                if state.closing { return nil }
                state.inFlight += 1
                return true
            }
            if let decided { return decided }
            Thread.sleep(forTimeInterval: 0.005)
        }
    }

    /// A write let in has been answered.
    func leave() {
        state.withLock { $0.inFlight -= 1 }
    }

    /// Closes the gate and waits until no write let in is unanswered; false when `deadline`
    /// (monotonic nanoseconds) passes first.
    func close(until deadline: Int64) -> Bool {
        state.withLock { $0.closing = true }
        while state.withLock({ $0.inFlight }) > 0 {
            if Monotonic.now() >= deadline { return false }
            Thread.sleep(forTimeInterval: 0.005)
        }
        return true
    }

    /// The hand-over failed: writes go on here.
    func reopen() {
        state.withLock { $0.closing = false }
    }

    /// The role was handed over: every waiting and later write is refused as not sent.
    func handedOver() {
        state.withLock { $0.handedOver = true }
    }
}
