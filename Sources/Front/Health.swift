import Basics
import BazarCore
import HTTPMessages
import InternalHTTP
import Wire

/// `/health`: every replica's own report, gathered through nginx's internal listener while
/// holding one of `permits` (refused at once without one, like a cache miss). `ok` only when
/// every replica is `up` and they agree: a catalog backup ahead of the primary (the primary's
/// store lost or replaced) is `degraded`, as is a primary still `catching_up` from its peers (API.md promise 6).
struct Health: Sendable {
    let client: InternalClient
    let catalogs: [String]
    let orders: [String]
    let permits: Permits

    func report() throws(APIError) -> Response {
        try permits.withPermit(gather)
    }

    private func gather() -> Response {
        // The backups first: a primary's `applied` read after a backup's is at least the
        // backup's unless they disagree.
        let catalogReports = Array(catalogs.reversed().map(ask).reversed())
        let orderReports = orders.map(ask)
        let reports = catalogReports + orderReports
        let primary = catalogReports.first { $0.role == "primary" && $0.status == "up" }
        let agree = catalogReports.allSatisfy { $0.applied <= primary?.applied ?? 0 }
        let canServe = primary != nil && orderReports.contains { $0.status == "up" }
        let body = JSON.object([("status", .string(agree && reports.allSatisfy { $0.status == "up" } ? "ok" : "degraded")),
                                ("replicas", .array(reports.map(\.json)))])
        return .json(canServe ? 200 : 503, body)
    }

    /// One replica's report, or `down` when it does not answer.
    private func ask(_ name: String) -> ReplicaHealth {
        if let answer = try? client.send("GET", "/\(name)/health", timeout: .seconds(1)), answer.status == 200,
           let report = (try? JSON.parse(answer.body)).flatMap(ReplicaHealth.init(json:)) {
            return ReplicaHealth(name: name, role: report.role, status: report.status, applied: report.applied)
        }
        let role = catalogs.first == name ? "primary" : catalogs.contains(name) ? "backup" : "order"
        return ReplicaHealth(name: name, role: role, status: "down", applied: 0)
    }
}
