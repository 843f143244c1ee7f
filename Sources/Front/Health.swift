import BazarCore
import FastCGI

/// `/health`: every replica's own report, gathered through nginx's internal listener.
struct Health: Sendable {
    let client: InternalClient
    let catalogs: [String]
    let orders: [String]

    func report() -> Response {
        let catalogReports = catalogs.map(ask)
        let orderReports = orders.map(ask)
        let reports = catalogReports + orderReports
        let up = { (report: JSON) in report["status"]?.stringValue == "up" }
        let primaryUp = catalogReports.contains { $0["role"]?.stringValue == "primary" && up($0) }
        let canServe = primaryUp && orderReports.contains(where: up)
        let body = JSON.object([("status", .string(reports.allSatisfy(up) ? "ok" : "degraded")),
                                ("replicas", .array(reports))])
        return .json(canServe ? 200 : 503, body)
    }

    /// One replica's report, or `down` when it does not answer.
    private func ask(_ name: String) -> JSON {
        if let answer = try? client.send("GET", "/\(name)/health", timeout: .seconds(1)), answer.status == 200,
           let report = try? JSON.parse(answer.body), let role = report["role"], let status = report["status"],
           let applied = report["applied"] {
            return .object([("name", .string(name)), ("role", role), ("status", status), ("applied", applied)])
        }
        let role = catalogs.first == name ? "primary" : catalogs.contains(name) ? "backup" : "order"
        return .object([("name", .string(name)), ("role", .string(role)), ("status", .string("down")), ("applied", .int(0))])
    }
}
