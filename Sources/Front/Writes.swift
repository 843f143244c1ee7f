import BazarCore
import Foundation
import HTTPMessages
import InternalHTTP
import TierCalls

/// Purchases and admin updates: passed on to the tier that applies them, and settled with the
/// catalog primary when their outcome is lost on the way (a tier or nginx hung or died). The
/// answer is then what the write did: its result, `503 unavailable` only when it surely was
/// not applied, or `504 outcome_unknown` when even the settle failed. Every purchase answer
/// carries the `Idempotency-Key` it ran under.
struct Writes: Sendable {
    let client: InternalClient

    /// Buys one copy of book `id` under `key`; `attempt` names this try.
    func purchase(_ id: Int64, key: String, attempt: String) -> Response {
        let result = client.result("POST", "/orders/purchase/\(id)", headers: WriteIdentity.headers(key: key, attempt: attempt),
                                   timeout: Timeouts.purchase)
        var response = outcome(of: result, id: id, key: key, attempt: attempt) { book, order in
            guard let order else { return nil }
            return .object([("order", order.json), ("book", book)])
        }
        response.headers.append(("Idempotency-Key", key))
        return response
    }

    /// Applies a validated admin update to book `id`.
    func update(_ id: Int64, _ update: BookUpdate, attempt: String) -> Response {
        let result = client.result("POST", "/catalog-primary/update/\(id)", headers: WriteIdentity.headers(key: attempt, attempt: attempt),
                                   body: update.json.encoded(), timeout: Timeouts.primaryWrite)
        return outcome(of: result, id: id, key: attempt, attempt: attempt) { book, _ in book }
    }

    /// The client's answer for a write call's result; `applied` makes the body of a write the
    /// settle found applied (nil: not enough to answer it, so the outcome stays unknown).
    private func outcome(of result: Result<InternalResponse, InternalCallError>, id: Int64, key: String, attempt: String,
                         applied: (JSON, Order?) -> JSON?) -> Response {
        switch WriteAnswer(result) {
        case .decided(let answer):
            return Forwarding.passOn(answer)
        case .notApplied:
            return APIError.unavailable("The store could not be reached; nothing was applied, a retry is safe.").response()
        case .unknown:
            switch Settlement.settle(id, key: key, attempt: attempt, client: client) {
            case .applied(let book, let order):
                guard let body = applied(book, order) else { return APIError.outcomeUnknown.response() }
                return .json(200, body)
            case .notApplied:
                return APIError.unavailable("The write was not applied (settled with the catalog primary); a retry is safe.")
                    .response()
            case .unknown:
                return APIError.outcomeUnknown.response()
            }
        }
    }
}
