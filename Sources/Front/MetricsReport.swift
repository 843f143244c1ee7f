import BazarCore
import HTTPMessages
import InternalHTTP

/// `/metrics`: the front's own metrics and every replica's (`GET /<replica>/metrics` through
/// nginx's internal listener), each sample labelled `replica="…"`, merged family by family,
/// plus `bazar_up` for every process, the backup's replication lag, the supervisor's restarts
/// of each process and its count of nginx's own answers. Gathered while holding one of
/// `permits`, like `/health`.
struct MetricsReport: Sendable {
    let client: InternalClient
    let catalogs: [String]
    let orders: [String]
    let permits: Permits
    let cache: ResponseCache<CacheEntry>
    let requests: RequestMetrics
    let restarts: SupervisorRestarts
    let nginxAnswers: NginxAnswers

    func report() throws(APIError) -> Response {
        try permits.withPermit(gather)
    }

    private func gather() -> Response {
        var families = Families()
        var up: [(String, Bool)] = [("front", true)]
        families.add(replica: "front", text: own().text)
        for name in catalogs + orders {
            let answer = try? client.send("GET", "/\(name)/metrics", timeout: .seconds(1))
            let text = answer.flatMap { $0.status == 200 ? String(decoding: $0.body, as: UTF8.self) : nil }
            up.append((name, text != nil))
            if let text { families.add(replica: name, text: text) }
        }
        var exposition = Exposition()
        exposition.family("bazar_up", .gauge, "1 if the replica answered this scrape, else 0.")
        for (name, isUp) in up { exposition.sample("bazar_up", [("replica", name)], isUp ? 1 : 0) }
        if catalogs.count == 2, let primary = families.applied[catalogs[0]], let backup = families.applied[catalogs[1]] {
            exposition.family("bazar_replication_lag", .gauge, "Writes the primary applied that the backup has not.")
            exposition.sample("bazar_replication_lag", [("replica", catalogs[1])], primary - backup)
        }
        restarts.write(to: &exposition)
        nginxAnswers.write(to: &exposition)
        for family in families.order { exposition.append(lines: families.lines[family] ?? []) }
        return exposition.response
    }

    /// The front's own metrics: its requests and its cache.
    private func own() -> Exposition {
        var exposition = Exposition()
        requests.write(to: &exposition)
        let stats = cache.stats
        for (name, help, value) in [("hits", "Reads answered from the cache.", stats.hits),
                                    ("misses", "Reads the cache did not hold.", stats.misses),
                                    ("evictions", "Entries the cache dropped for room.", stats.evictions),
                                    ("invalidations", "Entries a write dropped.", stats.invalidations),
                                    ("rejections", "Fills the admission policy turned away.", stats.rejections)] {
            exposition.family("bazar_cache_\(name)_total", .counter, help)
            exposition.sample("bazar_cache_\(name)_total", [], value)
        }
        exposition.family("bazar_cache_entries", .gauge, "Entries the cache holds.")
        exposition.sample("bazar_cache_entries", [], stats.entries)
        return exposition
    }
}

/// Expositions of several replicas merged: each family's HELP and TYPE once, then the samples
/// of every replica, labelled with it.
private struct Families {
    var order: [String] = []
    var lines: [String: [String]] = [:]
    /// Each replica's `bazar_applied`.
    var applied: [String: Int64] = [:]

    mutating func add(replica: String, text: String) {
        var current = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let name = String(line.dropFirst(7).prefix { $0 != " " })
                current = name
                if lines[name] == nil { order.append(name); lines[name] = [] }
                if lines[name]!.count < 2 { lines[name]!.append(String(line)) }
            } else if !line.hasPrefix("#"), !current.isEmpty {
                lines[current, default: []].append(Self.label(line, replica))
                if line.hasPrefix("bazar_applied "), let value = Int64(line.dropFirst(14)) { applied[replica] = value }
            }
        }
    }

    /// A sample line with `replica="…"` first among its labels.
    private static func label(_ line: Substring, _ replica: String) -> String {
        let label = "replica=\"\(Exposition.escape(replica, quote: true))\""
        if let brace = line.firstIndex(of: "{") {
            return line[...brace] + label + (line[line.index(after: brace)] == "}" ? "" : ",") + line[line.index(after: brace)...]
        }
        let name = line.prefix { $0 != " " }
        return name + "{" + label + "}" + line[name.endIndex...]
    }
}
