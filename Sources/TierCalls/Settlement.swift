import Basics
import BazarCore
import InternalHTTP
import Wire

/// The final word on a write whose outcome a caller lost: the catalog primary's settle.
public enum Settlement: Sendable {
    /// The write was applied: the settle's answer (the book as it is now, and for a purchase its
    /// order; for an addition the books added).
    case applied(SettleAnswer)
    /// The write was not applied and, its attempt being refused for good, never will be.
    case notApplied
    /// The primary could not be asked: the outcome stays unknown.
    case unknown

    /// Asks the primary to settle the write under `key` (attempt `attempt`) on book `id`, or
    /// the addition of books under `key` when `id` is nil; `sent` is when the caller sent the
    /// write (`Monotonic.now()`). Safe to resend: settling twice answers the same. "Not
    /// applied" is believed only while the primary surely still remembers a key applied then
    /// (`WriteIdentity.settleTrustedFor`, on this process's clock); later it is unknown.
    public static func settle(_ id: Int64?, key: String, attempt: String, sent: Int64, primary: PrimaryCalls) -> Settlement {
        let route = "/settle" + (id.map { "/\($0)" } ?? "")
        let result = primary.result("POST", route, headers: WriteIdentity.headers(key: key, attempt: attempt),
                                   timeout: Timeouts.settle, resendable: true)
        guard case .success(let answer) = result, answer.status == 200, answer.header("X-Upstream") != nil,
              let settled = SettleAnswer(body: answer.body) else { return .unknown }
        return decided(settled, sentFor: Monotonic.now() - sent)
    }

    /// The settle's answer taken at its word, or unknown for a "not applied" that arrived
    /// `sentFor` nanoseconds after the write was sent, when the primary may have forgotten it.
    package static func decided(_ answer: SettleAnswer, sentFor elapsed: Int64) -> Settlement {
        if answer.applied { return .applied(answer) }
        return elapsed < WriteIdentity.settleTrustedFor.nanoseconds ? .notApplied : .unknown
    }
}
