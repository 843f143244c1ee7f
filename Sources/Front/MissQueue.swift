import HTTPMessages
import Synchronization

/// The front's queue of cache misses: a socket of its own (`--misses-socket`), with threads of
/// their own, which nginx reaches by an internal redirect (`X-Accel-Redirect` to its
/// `@front_miss` location). While connections wait on the main socket, a miss read there is sent
/// to it instead of waiting on a catalog replica in one of the main socket's threads: the
/// misses of a flood then wait in the queue of misses (refused with 503 by nginx once they have
/// waited 800 ms; the front then skips the ones nginx gave up on), and the main socket's queue,
/// where hits wait, stays short. When no connection waits, a miss is answered where it was
/// read, with no extra hop.
final class MissQueue: Sendable {
    /// nginx's location of the queue of misses.
    static let location = "@front_miss"

    /// Whether the front has the socket (nginx then has the location).
    let enabled: Bool
    private let queued = Atomic<Int>(0)

    init(enabled: Bool) {
        self.enabled = enabled
    }

    /// How many misses were sent to the queue (`bazar_misses_queued_total`).
    var count: Int { queued.load(ordering: .relaxed) }

    /// Whether the miss `request` asks for goes to the queue: connections wait on the socket it
    /// came on, and it did not come through the queue already.
    func takes(_ request: Request) -> Bool {
        enabled && request.connectionsWaiting && !request.throughMissQueue
    }

    /// The answer that sends a miss to the queue (nginx replaces it with the queue's answer).
    func redirect() -> Response {
        queued.add(1, ordering: .relaxed)
        return Response(status: 200, headers: [("X-Accel-Redirect", Self.location)], body: [])
    }
}
