import Glibc

/// This host's monotonic clock (`CLOCK_MONOTONIC`) in nanoseconds, for durations and deadlines
/// within one process. Its zero is the host's boot, so a reading means nothing to another host
/// (another container may run on one): no clock is shared between replicas, and what crosses
/// the network is a duration (a lease in milliseconds), never a reading of this clock.
public enum Monotonic {
    /// Now, in nanoseconds since an arbitrary fixed point.
    public static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    /// Sleeps for `nanoseconds`, going on after a signal interrupts it.
    public static func sleep(nanoseconds: Int64) {
        guard nanoseconds > 0 else { return }
        var remaining = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        while true {
            var request = remaining
            guard nanosleep(&request, &remaining) != 0, errno == EINTR else { return }
        }
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in whole nanoseconds.
    public var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
