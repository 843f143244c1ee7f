import Basics
import BazarCore
import Foundation
import HTTPMessages
import InternalHTTP
import Synchronization
import TierCalls
import Wire

/// A purchase on an order replica: the catalog primary takes one copy (atomically, recording the
/// order under the purchase's key; the takes of the purchases made meanwhile travel with it,
/// `TakeBatches`), this replica records the order and pushes it to its peer, together with the
/// orders of the purchases made meanwhile (`OrderCommits`).
/// When the take's outcome is lost (the primary or nginx hung or died mid-way), the replica
/// settles it with the primary; when even that fails it answers `504 outcome_unknown`, never a
/// 503 that might hide a purchase. A take that failed fast without being applied is made once
/// more (`FastRetry`).
struct Purchases: Sendable {
    let name: String
    let takes: TakeBatches
    let commits: OrderCommits
    /// The catalog primary's calls (takes and settles).
    let primary: PrimaryCalls

    /// Buys one copy of book `id` under `key` (attempt `attempt`): safe to repeat with the same
    /// key, on either order replica: the catalog answers the first order again.
    func buy(_ id: Int64, key: String, attempt: String) -> Response {
        FastRetry.write(attempt: attempt, tier: name) { attempt in take(id, key: key, attempt: attempt) }
    }

    /// One take: the answer, and whether surely nothing was bought.
    private func take(_ id: Int64, key: String, attempt: String) -> (Response, notApplied: Bool) {
        let sent = Monotonic.now()
        let taken = takes.take(id, key: key, attempt: attempt)
        switch WriteStep(WriteAnswer(taken), earlierTriesPossible: false) {
        case .passOn(let answer):
            guard answer.status == 200 else {
                return (Response(status: answer.status, headers: [Response.jsonContentType] + upstream, body: answer.body), false)
            }
            guard let taken = TakeAnswer(body: answer.body) else {
                return settled(id, key: key, attempt: attempt, sent: sent)
            }
            return (bought(taken.order, book: taken.book, replayed: taken.replayed), false)
        case .refuse:
            return (APIError.unavailable("The catalog primary could not be reached; nothing was bought.").response(headers: upstream), true)
        case .settle:
            return settled(id, key: key, attempt: attempt, sent: sent)
        }
    }

    /// Settles a take, sent at `sent`, whose answer was lost.
    private func settled(_ id: Int64, key: String, attempt: String, sent: Int64) -> (Response, notApplied: Bool) {
        switch Settlement.settle(id, key: key, attempt: attempt, sent: sent, primary: primary) {
        case .applied(let answer):
            guard let order = answer.order, let book = answer.book else {
                return (APIError.outcomeUnknown.response(headers: upstream), false)
            }
            return (bought(order, book: book, replayed: false), false)
        case .unknown:
            return (APIError.outcomeUnknown.response(headers: upstream), false)
        case .notApplied:
            return (APIError.unavailable("The catalog primary did not take a copy; nothing was bought.").response(headers: upstream), true)
        }
    }

    /// Records an order the primary took, pushes it to the peer and answers it: 200 only once
    /// this replica or its peer holds it, so that a reader of either finds it even with the
    /// primary gone (the other reads through to it); else 504, and a retry under the key
    /// answers the order again.
    private func bought(_ order: Order, book: Book, replayed: Bool) -> Response {
        guard commits.hold(order) else { return APIError.outcomeUnknown.response(headers: upstream) }
        var headers = upstream
        if replayed { headers.append(("Idempotent-Replayed", "true")) }
        return .json(200, .object([("order", order.json), ("book", book.json)]), headers: headers)
    }

    var upstream: [(String, String)] { Response.upstream(name) }
}

/// Pushes new orders to the other order replica before their purchases are answered, so both
/// usually list them at once. When the peer does not answer within `Timeouts.peerPush` (down,
/// or hung), pushes pause for `pause`: the peer does not need them to be right, since an order
/// replica reads through to the primary's record of takes before it answers for an order it
/// lacks, and catches up from it every second.
final class PeerPush: Sendable {
    static let pause: Duration = .seconds(1)

    private let path: String
    private let client: InternalClient
    private let pausedUntil = Atomic<Int64>(0)

    init(peer: String, client: InternalClient) {
        path = "/\(peer)/replicate"
        self.client = client
    }

    /// Pushes orders, each already encoded (`Order.internalJSON`), in one request; `first` (the
    /// first order's number) names them in the log. Whether the peer recorded them.
    func push(_ orders: [[UInt8]], first: Int64) -> Bool {
        guard Monotonic.now() >= pausedUntil.load(ordering: .relaxed) else { return false }
        guard (try? client.send("POST", path, body: OrderList.encoded(orders), timeout: Timeouts.peerPush, resendable: true))?.status == 200 else {
            pausedUntil.store(Monotonic.now() + Self.pause.nanoseconds, ordering: .relaxed)
            Log.warn("the peer missed orders; pushes pause, the peer catches up from the catalog",
                     [("path", path), ("first", "\(first)"), ("orders", "\(orders.count)")])
            return false
        }
        return true
    }
}
