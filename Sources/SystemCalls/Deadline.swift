import Glibc

/// The moment on the machine's monotonic clock (`CLOCK_MONOTONIC`) by which a whole call must be
/// done: computed once when the call starts and handed to every system call it makes, so a peer
/// that answers a byte at a time cannot stretch the call past it.
public struct Deadline: Sendable, Comparable {
    /// Nanoseconds on the monotonic clock.
    private let instant: Int64

    private init(instant: Int64) { self.instant = instant }

    /// The moment `duration` from now.
    public init(after duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = Deadline(instant: Self.now() &+ seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000)
    }

    public static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.instant < rhs.instant }

    /// How long is left, zero once it has passed.
    public var remaining: Duration { .nanoseconds(max(0, instant - Self.now())) }

    /// What is left in whole milliseconds for `poll`, rounded up so that a wait never ends
    /// before the deadline; zero once it has passed.
    var pollMilliseconds: Int32 {
        let left = instant - Self.now()
        return left <= 0 ? 0 : Int32(clamping: (left + 999_999) / 1_000_000)
    }

    private static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}
