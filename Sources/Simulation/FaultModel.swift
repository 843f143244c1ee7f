/// How hostile a run is: the network's delays and losses, the nemesis's faults and the clocks.
public struct FaultModel: Sendable {
    /// The shortest and usual longest delay of a message between processes (nanoseconds).
    var latency: (low: Int64, high: Int64) = (100_000, 3_000_000)
    /// The chance a message is slow (up to `slowest`), or held up very long (up to `longest`:
    /// a hung thread, a stalled connection).
    var slow = 0.02
    var slowest: Int64 = 700_000_000
    var stall = 0.003
    var shortestStall: Int64 = 700_000_000
    var longest: Int64 = 12_000_000_000
    /// The chance a message between processes is lost, or (when the tiers may resend it) duplicated.
    var drop = 0.01
    var duplicate = 0.01
    /// The chance a write sent to a process that is up fails fast with nothing sent (nginx sent
    /// it on a kept connection the tier was letting go): what `FastRetry` retries.
    var reset = 0.02
    /// How far each process's clock rate is off, at most, in parts per million.
    public var clockDriftPPM: Int64 = 100
    /// How long faults are injected for, and how far apart (nanoseconds).
    var faultWindow: Int64 = 20_000_000_000
    var faultGap: (low: Int64, high: Int64) = (300_000_000, 4_000_000_000)
    /// How long a crashed process stays down, a hung one hangs, a partition lasts (at most).
    var longestDown: Int64 = 6_000_000_000
    var longestHang: Int64 = 8_000_000_000
    var longestPartition: Int64 = 8_000_000_000
    /// Of every ten faults, how many hang a front (the others fall on any process).
    var frontHangs = 0
    /// The processes whose crash may lose the disk (at most one disk a run).
    public var disksLost: Set<NodeName> = [.catalog1, .catalog2]
    /// The chance a run loses the primary for good (crashed with its disk, never restarted),
    /// with no other fault from `lossQuiet` before it to `lossQuiet` after, and the longest a
    /// write may then wait to be acknowledged again (`Checker` checks it: promise 7 says 5 s on
    /// a sound network; here 1 % of messages are lost and 2 % slow, each loss on the way
    /// costing a timeout of up to a second).
    public var loseForGood = 0.25
    var lossQuiet: Int64 = 9_000_000_000
    var failoverBound: Int64 = 10_000_000_000
    /// How long the nemesis cuts the primary off from every other process (longer than the
    /// backup's `failoverAfter`), when it does.
    var isolation: (low: Int64, high: Int64) = (1_500_000_000, 8_000_000_000)
    /// The workload: clients, operations each, the longest pause between two.
    var clients = 3
    var operationsPerClient = 14
    var longestThink: Int64 = 1_500_000_000
    /// Of every hundred operations, how many are reads and how many purchases (the rest are updates).
    var reads = 45
    var purchases = 40

    /// The default: short faults, seconds of simulated time a seed.
    public static let standard = FaultModel()

    /// A run that lasts past `WriteIdentity.keyRetention` (ten minutes): slow clients, more
    /// updates, processes (fronts most) hung and messages held up for up to twelve minutes, so that a key can be forgotten while a
    /// settle of its write is still on its way.
    public static let long: FaultModel = {
        var model = FaultModel()
        model.stall = 0.02
        model.clients = 8
        model.drop = 0.05
        model.frontHangs = 5
        model.shortestStall = 570_000_000_000
        model.longest = 720_000_000_000
        model.faultWindow = 1_200_000_000_000
        model.faultGap = (5_000_000_000, 30_000_000_000)
        model.longestHang = 720_000_000_000
        model.operationsPerClient = 24
        model.longestThink = 70_000_000_000
        model.reads = 20
        model.purchases = 30
        // Its slow clients would not finish within the run after a loss with the backup out of sync.
        model.loseForGood = 0
        return model
    }()

    /// One message's delay.
    func delay(_ random: inout SplitMix64) -> Int64 {
        if random.chance(stall) { return random.between(shortestStall, longest) }
        if random.chance(slow) { return random.between(latency.high, slowest) }
        return random.between(latency.low, latency.high)
    }
}

/// An old decision put back into the simulation only (never into the production code path),
/// to show that the checker finds the hole it left.
public enum Hole: String, CaseIterable, Sendable {
    /// A caller believes a settle's "not applied" however long after sending the write it
    /// arrives (before `WriteIdentity.settleTrustedFor`): a key the primary forgot answers 503
    /// for a write it applied.
    case retryAfterSettle = "retry-after-settle"
    /// A restarting primary that hears from the backup trusts its answer alone (as bb28aa1 did):
    /// it leads, or pulls from the backup, counting it in sync, whatever the witnesses recorded
    /// (a demotion, writes acknowledged without the backup beyond its `applied`).
    case staleBackup = "stale-backup"
    /// A primary answers reads whenever it leads in its own eyes (before f75a61a): one paused
    /// past its replacement wakes and answers reads from before its successor's writes.
    case deposedReads = "deposed-reads"
    /// A backup waits on the primary of its term whenever it answers, as whatever it answers
    /// (before a64bff8): a primary back as a backup of an older epoch holds it off for good.
    case primaryAnswersAsAnything = "primary-answers-as-anything"
    /// Only a replica whose store says it leads asks the witnesses for their term at start
    /// (before bb3d558): a backup that won an epoch and died before hearing it comes back as
    /// a backup, and the stack may be left with no primary.
    case lostGrant = "lost-grant"
    /// The primary fences only the attempt a settle aborted, not the tries made under it
    /// (accidents item 7): a retry held past the caller's settle still buys.
    case unfencedRetry = "unfenced-retry"
}
