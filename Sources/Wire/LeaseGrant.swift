import Basics

/// The catalog primary's grant of a read lease to a front (`POST /catalog-primary/lease/<front>`):
/// the lease's id (a renewal names it), how long it lasts, whether it is fresh (the front then
/// empties its cache) and the write sequence number the primary had announced when granting it
/// (the floor below which the front takes no fill), and the epoch of the primary that granted it.
public struct LeaseGrant: WireMessage, Sendable, Equatable {
    /// The lease's id, which a renewal names.
    public var lease: Int64
    /// How long it lasts, counted by the front from when it asked.
    public var milliseconds: Int64
    /// Whether the front must empty its cache first.
    public var fresh: Bool
    /// The sequence number announced when it was granted.
    public var announced: Int64
    /// The epoch of the primary that granted it.
    public var epoch: Int64

    /// A grant from its parts.
    public init(lease: Int64, milliseconds: Int64, fresh: Bool, announced: Int64, epoch: Int64) {
        self.lease = lease
        self.milliseconds = milliseconds
        self.fresh = fresh
        self.announced = announced
        self.epoch = epoch
    }

    /// `{"lease", "lease_ms", "fresh", "announced", "epoch"}`.
    public var json: JSON {
        .object([("lease", .int(lease)), ("lease_ms", .int(milliseconds)), ("fresh", .bool(fresh)), ("announced", .int(announced)),
                 ("epoch", .int(epoch))])
    }

    /// Reads a grant; nil when a field is missing or of the wrong kind.
    public init?(json: JSON) {
        guard let lease = json["lease"]?.int64Value, let milliseconds = json["lease_ms"]?.int64Value,
              let fresh = json["fresh"]?.boolValue, let announced = json["announced"]?.int64Value,
              let epoch = json["epoch"]?.int64Value else { return nil }
        self.init(lease: lease, milliseconds: milliseconds, fresh: fresh, announced: announced, epoch: epoch)
    }
}
