import Basics
import BazarCore
import Dispatch
import InternalHTTP
import Synchronization
import TierCalls
import Wire

/// Sends the takes of concurrent purchases to the catalog primary together (`OrderBatches`
/// decides the batches, as for the orders' group commit): while one batch of takes is on its way,
/// the takes that arrive wait, and go in the next batch, in one `POST .../take-batch` to the
/// primary (`PrimaryCalls`: the replica last seen leading, else nginx's `/catalog-primary/`).
/// Each purchase gets its own take's answer, as if it had made the call alone: a refusal or a
/// lost answer of the whole batch is each take's, and a take's own answer comes with the
/// primary's `X-Upstream`, so `WriteAnswer` reads it as before. A batch of one goes as a plain
/// take (`POST .../take/<id>`).
///
/// No thread of its own: the leader is one of the purchases' request threads, and each waiting
/// purchase is woken alone, once, by a semaphore. A take waits at most `Timeouts.takeBatchWait`
/// for a batch to hold it; past it, it leaves and is sent alone. The wait counts within the
/// take's `Timeouts.primaryWrite`: a batch is sent with what is left of its oldest take's, so a
/// take takes no longer than it did alone.
final class TakeBatches: Sendable {
    private let primary: PrimaryCalls
    private let plan = Mutex(OrderBatches<Member>())

    init(primary: PrimaryCalls) {
        self.primary = primary
    }

    /// How many takes wait for the batch on its way to finish.
    var waiting: Int { plan.withLock { $0.waitingCount } }

    /// Takes one copy of book `id` under `key` and `attempt`, with the takes of the purchases
    /// made meanwhile: the primary's answer to this take, or why there was none.
    func take(_ id: Int64, key: String, attempt: String) -> Result<InternalResponse, InternalCallError> {
        let member = Member(TakeBatch.Take(book: id, key: key, attempt: attempt))
        let batch: [Member]
        if let now = plan.withLock({ $0.join(member, bytes: member.encoded.count) }) {
            batch = now
        } else {
            var role = member.awaitRole(for: Timeouts.takeBatchWait)
            if role == nil {
                if plan.withLock({ $0.leave(member) }) { return send([member])[0] }   // alone, with what is left
                role = member.awaitRole(for: nil)   // a batch took it meanwhile: its wake comes
            }
            switch role! {
            case .answered(let result): return result
            case .lead(let next): batch = next
            }
        }
        let results = send(batch)
        if let next = plan.withLock({ $0.finish() }) { next[0].wake(.lead(next)) }
        var own: Result<InternalResponse, InternalCallError> = .failure(.malformed)
        for (other, result) in zip(batch, results) {
            if other === member { own = result } else { other.wake(.answered(result)) }
        }
        return own
    }

    /// Sends a batch's takes, within what is left of its oldest take's `Timeouts.primaryWrite`:
    /// one result per take, in order.
    private func send(_ batch: [Member]) -> [Result<InternalResponse, InternalCallError>] {
        let waited = Monotonic.now() - batch.map(\.joined).min()!
        let timeout = Timeouts.primaryWrite - .nanoseconds(waited)
        if batch.count == 1 {
            let take = batch[0].take
            return [primary.result("POST", "/take/\(take.book)", headers: WriteIdentity.headers(key: take.key, attempt: take.attempt),
                                   timeout: timeout)]
        }
        let result = primary.result("POST", "/take-batch", body: TakeBatch.encoded(batch.map(\.encoded)), timeout: timeout)
        // A refusal of the batch, or no answer, is every take's alike.
        guard case .success(let answer) = result, answer.status == 200, let upstream = answer.header("X-Upstream") else {
            return batch.map { _ in result }
        }
        guard let answers = TakeBatchAnswer(body: answer.body)?.answers, answers.count == batch.count else {
            Log.error("the primary's answer to a batch of takes is malformed; each take is settled", [("takes", "\(batch.count)")])
            return batch.map { _ in .failure(.malformed) }
        }
        return answers.map { answer in
            var headers = ["X-Upstream": upstream]
            if answer.replayed { headers["Idempotent-Replayed"] = "true" }
            return .success(InternalResponse(status: answer.status, headers: headers, body: answer.body.encoded()))
        }
    }

    /// What a waiting take is woken for.
    private enum Role {
        /// Lead this batch (the take is its first).
        case lead([Member])
        /// The batch holding the take was answered: this take's result.
        case answered(Result<InternalResponse, InternalCallError>)
    }

    /// One purchase's take in the group, encoded once. `role` is written once, before `woken`
    /// is signalled, and read after the wait: the semaphore orders the two.
    private final class Member: @unchecked Sendable {
        let take: TakeBatch.Take
        let encoded: [UInt8]
        /// When the take joined (`Monotonic.now()`).
        let joined = Monotonic.now()
        private let woken = DispatchSemaphore(value: 0)
        private var role: Role?

        init(_ take: TakeBatch.Take) {
            self.take = take
            encoded = take.json.encoded()
        }

        func wake(_ role: Role) {
            self.role = role
            woken.signal()
        }

        /// The role, once woken; nil when `limit` (nil: none) passed first.
        func awaitRole(for limit: Duration?) -> Role? {
            if let limit {
                guard woken.wait(timeout: .now() + .nanoseconds(Int(limit.nanoseconds))) == .success else { return nil }
            } else {
                woken.wait()
            }
            return role!
        }
    }
}
