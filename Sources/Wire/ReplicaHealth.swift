import Basics
import BazarCore
import HTTPMessages

/// One replica's report for `/health`: its name, role, whether it serves, and the last write it
/// applied (for a catalog replica the write sequence number; for an order replica the order
/// number up to which it holds every order).
public struct ReplicaHealth: WireMessage, Sendable, Equatable {
    /// `catalog-1`, `order-2`, …
    public var name: String
    /// `primary`, `backup` or `order`.
    public var role: String
    /// `up`, `down` or `catching_up`.
    public var status: String
    /// See the type's description.
    public var applied: Int64
    /// For a catalog replica that answered, the newest term it knows (`epoch`, `primary`).
    public var term: Term?

    /// A report from its parts.
    public init(name: String, role: String, status: String, applied: Int64, term: Term? = nil) {
        self.name = name
        self.role = role
        self.status = status
        self.applied = applied
        self.term = term
    }

    /// API.md's replica object (with `epoch` and `primary` when the term is known).
    public var json: JSON {
        .object([("name", .string(name)), ("role", .string(role)), ("status", .string(status)), ("applied", .int(applied))]
                + (term?.members ?? []))
    }

    /// Reads a replica object; nil when a field is missing or of the wrong kind.
    public init?(json: JSON) {
        guard let name = json["name"]?.stringValue, let role = json["role"]?.stringValue,
              let status = json["status"]?.stringValue, let applied = json["applied"]?.int64Value else { return nil }
        self.init(name: name, role: role, status: status, applied: applied, term: Term(members: json))
    }

    /// The report as a replica answers it, with its `X-Upstream`.
    public var response: Response {
        .json(200, json, headers: Response.upstream(name))
    }
}
