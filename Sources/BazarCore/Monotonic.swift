import Glibc

/// The machine's monotonic clock (`CLOCK_MONOTONIC`) in nanoseconds: one clock for every
/// process of the host, so a deadline computed in one replica means the same in another.
public enum Monotonic {
    /// Now, in nanoseconds since an arbitrary fixed point.
    public static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
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
