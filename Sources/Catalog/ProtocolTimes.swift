/// The catalog's protocol durations, for the simulator (docs/simulation.md), which measures
/// each on the simulated process's own clock. They are the ones the code uses, read where they
/// are kept; nothing else reads them here.
package enum ProtocolTimes {
    /// A front's read lease (`FrontLeases.duration`).
    package static let frontLease = FrontLeases.duration
    /// The backup's push lease (`Replicator.lease`).
    package static let pushLease = Replicator.lease
    /// How often an idle primary pushes (`Replicator.heartbeat`).
    package static let heartbeat = Replicator.heartbeat
    /// How long one push may take (`Replicator.pushTimeout`).
    package static let pushTimeout = Replicator.pushTimeout
    /// A write's deadline on the primary, from its arrival (`Primary.writeDeadline`).
    package static let writeDeadline = Primary.writeDeadline
    /// A settle's deadline on the primary (`Primary.settleDeadline`).
    package static let settleDeadline = Primary.settleDeadline
    /// How long a recovering primary waits for each peer's answer (`Recovery.question`).
    package static let question = Recovery.question
    /// How long a current backup's primary may be silent before it runs for the next epoch
    /// (`Backup.failoverAfter`).
    package static let failoverAfter = Backup.failoverAfter
}
