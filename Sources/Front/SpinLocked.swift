import Glibc
import Synchronization

/// A value behind a lock for critical sections of a few hundred nanoseconds (a cache shard's
/// lookup): a waiting thread spins, yielding the processor now and then, instead of sleeping
/// in the kernel, which would cost far more than the work the lock protects.
final class SpinLocked<Value>: @unchecked Sendable {
    private let held = Atomic<Bool>(false)
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with the value, holding the lock.
    func withLock<T>(_ body: (inout Value) -> T) -> T {
        var attempts = 0
        while !held.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            repeat {
                attempts += 1
                if attempts % 64 == 0 { sched_yield() }
            } while held.load(ordering: .relaxed)
        }
        defer { held.store(false, ordering: .releasing) }
        return body(&value)
    }
}
