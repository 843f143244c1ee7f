import BazarCore

/// The room the catalog primary keeps free on its own disk and its backup's, so that a write
/// refused on a full disk is refused before anything is applied (`503`), and a settle can
/// always record its fence ([write-outcomes.md](../../docs/write-outcomes.md#a-full-disk)).
///
/// The primary commits a write before its backup stores it. Were the backup's disk the first to
/// fill (one disk under both, as in the tests, or two filling alike: the backup holds the same
/// books and keys), the write would be committed and never acknowledged, and its caller told
/// `504 outcome_unknown`, not `503`. So while either disk has less than `bytes` free, the
/// primary refuses new writes as not applied and lets only settles through: a settle that
/// finds its write applied writes nothing, and one that fences an attempt writes a row of a
/// few dozen bytes, which the reserve holds on both disks.
enum DiskReserve {
    /// The room kept: more than one batch of writes of a usual size needs on either disk.
    static let bytes: Int64 = 1 << 20

    /// Whether new writes may be committed with `primaryFree` bytes free on the primary's disk
    /// and `backupFree` on its backup's (nil: not known, or the backup is not waited for).
    static func admitsWrites(primaryFree: Int64?, backupFree: Int64?) -> Bool {
        [primaryFree, backupFree].allSatisfy { ($0 ?? bytes) >= bytes }
    }

    /// The answer to a write refused for want of room: nothing was applied.
    static let refusal = APIError.unavailable(
        "The catalog's disk (or its backup's) is nearly full: the write was not applied; it may be retried once there is room.")
}
