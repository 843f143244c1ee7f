import Basics
import BazarCore
import HTTPMessages
import InternalHTTP
import Wire

/// `/health`: every replica's own report, gathered through nginx's internal listener while
/// holding one of `permits` (refused at once without one, like a cache miss). `ok` only when
/// every replica is `up` and they agree: a catalog backup ahead of the primary (the primary's
/// store lost or replaced) is `degraded`, as is a primary still `catching_up` from its peers (API.md promise 6).
/// It names the primary and the epoch of the newest term a catalog replica reports (API.md promise 7).
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
        let answered = Array(catalogs.reversed().map(ask).reversed())
        let orderReports = zip(orders, orders.map(ask)).map { name, report in
            report ?? ReplicaHealth(name: name, role: "order", status: "down", applied: 0)
        }
        // The newest term any catalog replica reports names the primary (the first replica by default).
        let term = answered.compactMap { $0?.term }.max { $0.epoch < $1.epoch } ?? Term(epoch: 0, primary: catalogs.first ?? "")
        let catalogReports = zip(catalogs, answered).map { name, report in
            report ?? ReplicaHealth(name: name, role: name == term.primary ? "primary" : "backup", status: "down", applied: 0)
        }
        let reports = catalogReports + orderReports
        let primary = catalogReports.first { $0.role == "primary" && $0.status == "up" }
        let agree = catalogReports.allSatisfy { $0.applied <= primary?.applied ?? 0 }
        let canServe = primary != nil && orderReports.contains { $0.status == "up" }
        let body = JSON.object([("status", .string(agree && reports.allSatisfy { $0.status == "up" } ? "ok" : "degraded")),
                                ("primary", .string(term.primary)), ("epoch", .int(term.epoch)),
                                ("replicas", .array(reports.map(\.json)))])
        return .json(canServe ? 200 : 503, body)
    }

    /// One replica's report, or nil when it does not answer.
    private func ask(_ name: String) -> ReplicaHealth? {
        guard let answer = try? client.send("GET", "/\(name)/health", timeout: .seconds(1)), answer.status == 200,
              let report = ReplicaHealth(body: answer.body) else { return nil }
        return ReplicaHealth(name: name, role: report.role, status: report.status, applied: report.applied, term: report.term)
    }
}
