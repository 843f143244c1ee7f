import Basics
import BazarCore
import Foundation
import HTTPMessages
import InternalHTTP
import Synchronization

/// `/metrics`: this front's own metrics, every other front's (`GET /<front>/metrics`, which
/// nginx's internal listener passes to that front's invalidation socket, with threads of its
/// own: a front whose main socket is saturated still answers) and every replica's
/// (`GET /<replica>/metrics`), each sample labelled `replica="…"` with the process's own name,
/// merged family by family, plus `bazar_up` for every process, the backup's replication lag
/// (`LastApplied`; the backup is the catalog replica that does not lead), the supervisor's restarts of each process and its count of nginx's own
/// answers. Each process is asked at once, for up to 1 s; one that does not answer is
/// `bazar_up 0` and the others still report. Gathered while holding one of `permits`, like
/// `/health`.
struct MetricsReport: Sendable {
    /// This front's name (`--name`), its samples' `replica` label.
    let name: String
    let client: InternalClient
    let fronts: FrontPeers
    let catalogs: [String]
    let orders: [String]
    let permits: Permits
    let misses: MissQueue
    let cache: ResponseCache<CacheEntry>
    /// The read lease, whose state this front reports.
    let lease: ReadLease
    let requests: RequestMetrics
    let restarts: SupervisorRestarts
    let nginxAnswers: NginxAnswers
    /// Each replica's `bazar_applied` when this front last saw it, for the lag while one is down.
    let lastApplied = LastApplied()

    func report() throws(APIError) -> Response {
        try permits.withPermit(gather)
    }

    /// This front's own metrics, unlabelled: the internal `GET /<name>/metrics`, which the
    /// front answering a scrape asks every other front for.
    func ownReport() -> Response {
        own().response
    }

    private func gather() -> Response {
        var families = Families()
        let others = fronts.names().filter { $0 != name } + catalogs + orders
        let texts = fetchAll(others.map { "/\($0)/metrics" })
        var up: [(String, Bool)] = [(name, true)]
        families.add(replica: name, text: own().text)
        for (process, text) in zip(others, texts) {
            up.append((process, text != nil))
            if let text { families.add(replica: process, text: text) }
        }
        var exposition = Exposition()
        exposition.family("bazar_up", .gauge, "1 if the process answered this scrape, else 0.")
        for (process, isUp) in up { exposition.sample("bazar_up", [("replica", process)], isUp ? 1 : 0) }
        if catalogs.count == 2 {
            let seen = lastApplied.merge(families.applied, primary: catalogs.first { families.leading.contains($0) })
            let primary = seen.primary ?? catalogs[0]
            let backup = catalogs.first { $0 != primary } ?? catalogs[1]
            exposition.family("bazar_replication_lag", .gauge,
                              "Writes the primary applied that the backup has not (a replica that did not answer: as last seen).")
            exposition.sample("bazar_replication_lag", [("replica", backup)], (seen.applied[primary] ?? 0) - (seen.applied[backup] ?? 0))
        }
        restarts.write(to: &exposition)
        nginxAnswers.write(to: &exposition)
        for family in families.order { exposition.append(lines: families.lines[family] ?? []) }
        return exposition.response
    }

    /// The body of each internal `GET path`'s 200 answer (nil for none within 1 s), all asked at once.
    private func fetchAll(_ paths: [String]) -> [String?] {
        let answers = Answers(count: paths.count)
        let done = DispatchGroup()
        for (index, path) in paths.enumerated() {
            done.enter()
            Thread { [client] in
                defer { done.leave() }
                let answer = try? client.send("GET", path, timeout: .seconds(1))
                answers.set(index, answer.flatMap { $0.status == 200 ? String(decoding: $0.body, as: UTF8.self) : nil })
            }.start()
        }
        done.wait()
        return answers.all
    }

    /// This front's own metrics: its requests, its cache, its lease and its process.
    private func own() -> Exposition {
        var exposition = Exposition()
        requests.write(to: &exposition)
        let stats = cache.stats
        for (name, help, value) in [("hits", "Reads answered from the cache.", stats.hits),
                                    ("misses", "Reads the cache did not hold.", stats.misses),
                                    ("evictions", "Entries the cache dropped for room.", stats.evictions),
                                    ("invalidations", "Entries a write dropped.", stats.invalidations),
                                    ("rejections", "Fills the admission policy turned away.", stats.rejections),
                                    ("oversized", "Answers too large to cache, served but not stored.", stats.oversized)] {
            exposition.family("bazar_cache_\(name)_total", .counter, help)
            exposition.sample("bazar_cache_\(name)_total", [], value)
        }
        for (name, help, value) in [("entries", "Entries the cache holds.", stats.entries),
                                    ("capacity", "The most entries the cache holds.", stats.capacity),
                                    ("bytes", "Bytes the cached entries are charged.", stats.bytes),
                                    ("capacity_bytes", "The most bytes the cached entries are charged.", stats.capacityBytes)] {
            exposition.family("bazar_cache_\(name)", .gauge, help)
            exposition.sample("bazar_cache_\(name)", [], value)
        }
        exposition.family("bazar_misses_queued_total", .counter, "Cache misses sent to the queue of misses while connections waited on the main socket.")
        exposition.sample("bazar_misses_queued_total", [], misses.count)
        exposition.family("bazar_front_lease_held", .gauge, "1 while this front holds its read lease (it serves and fills its cache only then).")
        exposition.sample("bazar_front_lease_held", [], lease.held ? 1 : 0)
        ProcessMetrics.write(to: &exposition)
        return exposition
    }
}

/// Each replica's `bazar_applied` as a front last saw it, and the catalog replica last seen
/// leading: a replica that does not answer a scrape keeps its last value, so
/// `bazar_replication_lag` is reported all the same, for the backup of whichever replica leads
/// (after a failover, catalog-1), and grows with the primary's writes while the backup is down.
final class LastApplied: Sendable {
    /// What was last seen.
    struct Seen: Sendable {
        var applied: [String: Int64] = [:]
        /// The catalog replica last seen leading (nil: none seen yet).
        var primary: String?
    }

    private let seen = Mutex(Seen())

    /// What was last seen, after taking in this scrape's values and the replica it saw leading, if any.
    func merge(_ fresh: [String: Int64], primary: String?) -> Seen {
        seen.withLock { seen in
            seen.applied.merge(fresh) { $1 }
            if let primary { seen.primary = primary }
            return seen
        }
    }
}

/// The answers of `MetricsReport.fetchAll`, filled in by its threads.
private final class Answers: Sendable {
    private let texts: Mutex<[String?]>

    init(count: Int) { texts = Mutex(Array(repeating: nil, count: count)) }

    func set(_ index: Int, _ text: String?) { texts.withLock { $0[index] = text } }

    var all: [String?] { texts.withLock { $0 } }
}

/// Expositions of several replicas merged: each family's HELP and TYPE once, then the samples
/// of every replica, labelled with it.
private struct Families {
    var order: [String] = []
    var lines: [String: [String]] = [:]
    /// Each replica's `bazar_applied`.
    var applied: [String: Int64] = [:]
    /// The replicas that reported `bazar_replication_lag_seconds`, which only a primary does.
    var leading: Set<String> = []

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
                if line.hasPrefix("bazar_replication_lag_seconds ") { leading.insert(replica) }
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
