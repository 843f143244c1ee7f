/// How long each hop waits, growing from the inside out: a caller always waits longer than the
/// work it waits for can take, so no outer layer answers while inner work goes on. The nginx
/// template's `fastcgi_read_timeout` of each internal location is a little longer than the
/// caller's timeout below (the caller gives up first and settles); `TimeoutsTests` checks it.
public enum Timeouts {
    /// One invalidation of a front; a front that does not confirm in time is waited out (its
    /// read lease, `FrontLeases.duration`, runs out).
    public static let invalidation: Duration = .milliseconds(500)
    /// A replication push (the backup's lease is shorter, so a timed-out push granted nothing).
    public static let replicationPush: Duration = .milliseconds(1_000)
    /// A call to the catalog primary that writes (take, update): invalidation, commit and the
    /// backup's acknowledgement (at most a push timeout plus a lease) fit in it.
    public static let primaryWrite: Duration = .milliseconds(4_500)
    /// A settle: one queued write on the primary.
    public static let settle: Duration = .milliseconds(1_500)
    /// The longest a purchase's take waits on its order replica for the batch of takes already
    /// on its way to the primary (`TakeBatches`); past it, the take is sent alone. The wait
    /// counts within the take's `primaryWrite` (a batch is sent with what is left of its oldest
    /// take's), and what is left outlasts the primary's own deadline (`primaryWrite` less 500 ms).
    public static let takeBatchWait: Duration = .milliseconds(300)
    /// The push of a new order to the peer order replica.
    public static let peerPush: Duration = .milliseconds(300)
    /// The front's recording, at one order replica, of an order it found bought by settling it.
    public static let recordOrder: Duration = peerPush
    /// The front's call to an order replica for a purchase: a primary write, a settle, and two
    /// pushes: the order waits for the batch running before its own (`OrderCommits`), then goes.
    public static let purchase: Duration = primaryWrite + settle + peerPush * 2 + .milliseconds(400)
    /// A read from a catalog or order replica.
    public static let read: Duration = .milliseconds(2_000)
}
