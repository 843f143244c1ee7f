import Basics
import BazarCore
import Foundation
import HTTPMessages
import InternalHTTP
import TierCalls
import Wire

/// Purchases, admin updates and additions of books: passed on to the tier that applies them,
/// and settled with the catalog primary when their outcome is lost on the way (a tier or nginx
/// hung or died). The answer is then what the write did: its result, `503 unavailable` only
/// when it surely was not applied, or `504 outcome_unknown` when even the settle failed. Every
/// answer to a purchase or an addition carries the `Idempotency-Key` it ran under. A purchase
/// that failed fast without being applied is tried once more (`FastRetry`): the primary takes
/// at most one copy per key, so even a wrong "not applied" cannot buy twice. Updates are not
/// retried: the primary does not dedupe them by key.
///
/// A 503 under the client's own key is answered only once the primary has settled that key:
/// this try surely did nothing, but an earlier try under the key (one answered 504, or whose
/// answer the client never got) may have bought or added, and a retry must report that write,
/// not hide it. When the primary cannot be asked, the answer is 504.
///
/// A purchase the front itself finds bought by settling it (the order replica's answer was
/// lost) is answered 200 only once an order replica has recorded its order (`record`), so that
/// it is readable at once from either replica, even with the primary gone; else 504.
struct Writes: Sendable {
    let client: InternalClient
    /// The catalog primary's calls (updates, additions, settles).
    let primary: PrimaryCalls
    /// The order replicas (`order-1`, `order-2`).
    let orders: [String]

    /// The key a keyed write runs under: the client's `Idempotency-Key`, under which earlier
    /// tries may have run, or one the stack made for this request alone.
    struct Key: Sendable {
        let value: String
        let fromClient: Bool
    }

    /// Buys one copy of book `id` under `key`; `attempt` names this try.
    func purchase(_ id: Int64, key: Key, attempt: String) -> Response {
        var response = FastRetry.write(attempt: attempt, tier: "front") { attempt in
            let sent = Monotonic.now()
            let result = client.result("POST", "/orders/purchase/\(id)", headers: WriteIdentity.headers(key: key.value, attempt: attempt),
                                       timeout: Timeouts.purchase)
            return outcome(of: result, settling: id, key: key, attempt: attempt, sent: sent) { settled in
                guard let order = settled.order, let book = settled.book, record(order) else { return nil }
                return .object([("order", order.json), ("book", book.json)])
            }
        }
        response.headers.append(("Idempotency-Key", key.value))
        return response
    }

    /// Applies a validated admin update to book `id`.
    func update(_ id: Int64, _ update: BookUpdate, attempt: String) -> Response {
        let sent = Monotonic.now()
        let result = primary.result("POST", "/update/\(id)", headers: WriteIdentity.headers(key: attempt, attempt: attempt),
                                   body: update.json.encoded(), timeout: Timeouts.primaryWrite)
        return outcome(of: result, settling: id, key: Key(value: attempt, fromClient: false), attempt: attempt, sent: sent) { $0.book?.json }.0
    }

    /// Adds validated books under `key`; `body` is the client's (the primary validates it again).
    func add(_ books: NewBooks, body: [UInt8], key: Key, attempt: String) -> Response {
        let sent = Monotonic.now()
        let result = primary.result("POST", "/books", headers: WriteIdentity.headers(key: key.value, attempt: attempt),
                                   body: body, timeout: Timeouts.primaryWrite)
        var (response, _) = outcome(of: result, settling: nil, key: key, attempt: attempt, sent: sent, status: 201) { settled in
            settled.books.map(books.answer)
        }
        response.headers.append(("Idempotency-Key", key.value))
        return response
    }

    /// The client's answer for a write call's result (`WriteStep` decides what to do with it),
    /// and whether the write surely was not applied. A lost answer, and a refusal (503) under
    /// the client's key, are settled
    /// (`settling`: the book written, nil for an addition; `sent`: when the call was sent);
    /// `applied` makes the body, answered `status`, of a write the settle found applied (nil:
    /// not enough to answer it, so the outcome stays unknown).
    private func outcome(of result: Result<InternalResponse, InternalCallError>, settling id: Int64?, key: Key,
                         attempt: String, sent: Int64, status: Int = 200, applied: (SettleAnswer) -> JSON?) -> (Response, notApplied: Bool) {
        func settle(_ byEarlierTry: Bool) -> (Response, notApplied: Bool) {
            settled(id, key: key.value, attempt: attempt, sent: sent, status: status, byEarlierTry: byEarlierTry, applied)
        }
        switch WriteStep(WriteAnswer(result), earlierTriesPossible: key.fromClient) {
        case .passOn(let answer):
            return (Forwarding.passOn(answer), false)
        case .refuse:
            return (APIError.unavailable("The store could not be reached; nothing was applied, a retry is safe.").response(), true)
        case .settle(let byEarlierTry):
            return settle(byEarlierTry)
        }
    }

    /// The answer the primary's settle of `key` gives: the write as applied (by an earlier try
    /// when `byEarlierTry`: then marked `Idempotent-Replayed`), 503 when it was not and never
    /// will be under `attempt`, 504 when the primary cannot be asked.
    private func settled(_ id: Int64?, key: String, attempt: String, sent: Int64, status: Int, byEarlierTry: Bool,
                         _ applied: (SettleAnswer) -> JSON?) -> (Response, notApplied: Bool) {
        switch Settlement.settle(id, key: key, attempt: attempt, sent: sent, primary: primary) {
        case .applied(let settled):
            guard let body = applied(settled) else { return (APIError.outcomeUnknown.response(), false) }
            return (.json(status, body, headers: byEarlierTry ? [("Idempotent-Replayed", "true")] : []), false)
        case .notApplied:
            return (APIError.unavailable("The write was not applied (settled with the catalog primary); a retry is safe.")
                .response(), true)
        case .unknown:
            return (APIError.outcomeUnknown.response(), false)
        }
    }

    /// Records a purchase's order at every order replica (`/<replica>/replicate`, idempotent);
    /// whether at least one recorded it. A replica that lacks it reads through to the one that has it.
    private func record(_ order: Order) -> Bool {
        let body = OrderList([order]).json.encoded()
        var recorded = false
        for replica in orders {
            let answer = try? client.send("POST", "/\(replica)/replicate", body: body, timeout: Timeouts.recordOrder, resendable: true)
            if answer?.status == 200 { recorded = true }
        }
        if !recorded { Log.warn("no order replica recorded a settled purchase; answering 504", [("order", "\(order.number)")]) }
        return recorded
    }
}
