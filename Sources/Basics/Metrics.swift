import Foundation
import HTTPMessages
import Synchronization

/// A tier's request metrics: counts by route and status, and a latency histogram by route.
/// Recording a request costs two clock reads, a scan of the path and a few relaxed atomic
/// adds: no lock, no allocation. The route label is the route's name (`info`, `take`, …) from
/// a fixed list, never the raw path, so the label set stays bounded.
public final class RequestMetrics: Sendable {
    /// Histogram bucket bounds: their labels and their nanoseconds.
    static let buckets: [(label: String, nanoseconds: Int64)] = [
        ("0.0005", 500_000), ("0.001", 1_000_000), ("0.0025", 2_500_000), ("0.005", 5_000_000),
        ("0.01", 10_000_000), ("0.025", 25_000_000), ("0.05", 50_000_000), ("0.1", 100_000_000),
        ("0.25", 250_000_000), ("0.5", 500_000_000), ("1", 1_000_000_000), ("2.5", 2_500_000_000),
        ("5", 5_000_000_000), ("10", 10_000_000_000),
    ]
    /// The statuses counted by their code; any other is counted as `other`.
    static let statuses = [200, 201, 204, 400, 401, 404, 405, 409, 413, 429, 500, 502, 503, 504]

    private let routes: [String]
    private let requests: [Counter]
    private let bucketCounts: [Counter]
    private let sums: [Counter]

    /// Metrics for a tier whose routes are named `routes`: the first path segment on the
    /// public listener, the one after the destination on the internal one. Others are `other`.
    public init(routes: [String]) {
        self.routes = routes + ["other"]
        requests = (0..<self.routes.count * (Self.statuses.count + 1)).map { _ in Counter() }
        bucketCounts = (0..<self.routes.count * (Self.buckets.count + 1)).map { _ in Counter() }
        sums = (0..<self.routes.count).map { _ in Counter() }
    }

    /// Serves `handler`, recording each request's route, status and duration.
    public func observing(_ handler: @escaping @Sendable (Request) -> Response) -> @Sendable (Request) -> Response {
        { request in
            let start = Monotonic.now()
            let response = handler(request)
            self.record(route: self.route(of: request), status: response.status, nanoseconds: Monotonic.now() - start)
            return response
        }
    }

    /// The index of the request's route (the last for `other`), without allocating.
    func route(of request: Request) -> Int {
        var path = request.path.utf8[...]
        var skip = request.isInternal ? 1 : 0
        while true {
            path = path.drop { $0 == UInt8(ascii: "/") }
            let segment = path.prefix { $0 != UInt8(ascii: "/") }
            guard skip > 0 else {
                return routes.indices.dropLast().first { routes[$0].utf8.elementsEqual(segment) } ?? routes.count - 1
            }
            path = path[segment.endIndex...]
            skip -= 1
        }
    }

    func record(route: Int, status: Int, nanoseconds: Int64) {
        let statusIndex = Self.statuses.firstIndex(of: status) ?? Self.statuses.count
        requests[route * (Self.statuses.count + 1) + statusIndex].value.add(1, ordering: .relaxed)
        let bucket = Self.buckets.firstIndex { nanoseconds <= $0.nanoseconds } ?? Self.buckets.count
        bucketCounts[route * (Self.buckets.count + 1) + bucket].value.add(1, ordering: .relaxed)
        sums[route].value.add(Int(nanoseconds), ordering: .relaxed)
    }

    /// `bazar_requests_total` and `bazar_request_duration_seconds`, into `exposition`: every
    /// route with every counted status, from 0, so that a series exists before its first request
    /// (`rate()` and `increase()` then see that one too).
    public func write(to exposition: inout Exposition) {
        exposition.family("bazar_requests_total", .counter, "Requests answered, by route and status.")
        let statusLabels = Self.statuses.map(String.init) + ["other"]
        for (route, name) in routes.enumerated() {
            for (index, status) in statusLabels.enumerated() {
                let count = requests[route * statusLabels.count + index].value.load(ordering: .relaxed)
                exposition.sample("bazar_requests_total", [("route", name), ("status", status)], count)
            }
        }
        exposition.family("bazar_request_duration_seconds", .histogram, "Time to answer a request, by route.")
        for (route, name) in routes.enumerated() {
            let counts = (0...Self.buckets.count).map { bucketCounts[route * (Self.buckets.count + 1) + $0].value.load(ordering: .relaxed) }
            let total = counts.reduce(0, +)
            var cumulative = 0
            for (index, bucket) in Self.buckets.enumerated() {
                cumulative += counts[index]
                exposition.sample("bazar_request_duration_seconds_bucket", [("route", name), ("le", bucket.label)], cumulative)
            }
            exposition.sample("bazar_request_duration_seconds_bucket", [("route", name), ("le", "+Inf")], total)
            exposition.sample("bazar_request_duration_seconds_sum", [("route", name)],
                              Double(sums[route].value.load(ordering: .relaxed)) / 1e9)
            exposition.sample("bazar_request_duration_seconds_count", [("route", name)], total)
        }
    }

    /// This tier's metrics (requests, the process's own, then `more`) as the internal
    /// `GET /<replica>/metrics` answer.
    public func response(_ more: (inout Exposition) -> Void = { _ in }) -> Response {
        var exposition = Exposition()
        write(to: &exposition)
        ProcessMetrics.write(to: &exposition)
        more(&exposition)
        return exposition.response
    }
}

/// The process's own metrics, as Prometheus' client libraries name them, read from /proc/self at
/// each scrape (a family whose file cannot be read is left out), and `bazar_build_info`.
public enum ProcessMetrics {
    /// `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_open_fds`,
    /// `process_start_time_seconds` and `bazar_build_info`, into `exposition`.
    public static func write(to exposition: inout Exposition) {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        // /proc/self/stat's fields from the third on (after the command's closing parenthesis).
        let stat = read("/proc/self/stat").flatMap { text in text.lastIndex(of: ")").map { text[text.index(after: $0)...] } }?
            .split(separator: " ") ?? []
        let field = { (number: Int) in stat.count > number - 3 ? Double(stat[number - 3]) : nil }
        if let user = field(14), let system = field(15), ticks > 0 {
            exposition.family("process_cpu_seconds_total", .counter, "User and system CPU time spent, in seconds.")
            exposition.sample("process_cpu_seconds_total", [], (user + system) / ticks)
        }
        if let started = field(22), let boot = bootTime(), ticks > 0 {
            exposition.family("process_start_time_seconds", .gauge, "Start time of the process since the Unix epoch, in seconds.")
            exposition.sample("process_start_time_seconds", [], boot + started / ticks)
        }
        if let pages = read("/proc/self/statm")?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) {
            exposition.family("process_resident_memory_bytes", .gauge, "Resident memory size, in bytes.")
            exposition.sample("process_resident_memory_bytes", [], pages * Int(sysconf(Int32(_SC_PAGESIZE))))
        }
        if let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            exposition.family("process_open_fds", .gauge, "Open file descriptors.")
            exposition.sample("process_open_fds", [], descriptors.count)
        }
        exposition.family("bazar_build_info", .gauge, "Always 1: the program, the Swift compiler that built it, and how.")
        exposition.sample("bazar_build_info", [("program", program), ("swift", swiftVersion), ("configuration", configuration)], 1)
    }

    /// How this program was built, as `--version` prints it: the Swift compiler and the configuration.
    public static var build: String { "swift \(swiftVersion), \(configuration)" }

    /// The program's name (`bazar-front`, …).
    private static let program = CommandLine.arguments.first.map { String($0.split(separator: "/").last ?? "") } ?? ""

    #if DEBUG
    private static let configuration = "debug"
    #else
    private static let configuration = "release"
    #endif

    #if compiler(>=6.4)
    private static let swiftVersion = "6.4 or later"
    #elseif compiler(>=6.3)
    private static let swiftVersion = "6.3"
    #elseif compiler(>=6.2)
    private static let swiftVersion = "6.2"
    #else
    private static let swiftVersion = "6.1 or earlier"
    #endif

    private static func read(_ path: String) -> String? {
        try? String(contentsOfFile: path, encoding: .utf8)
    }

    /// When the machine booted, in seconds since the Unix epoch (`btime` in /proc/stat).
    private static func bootTime() -> Double? {
        read("/proc/stat")?.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6)) }
    }
}

/// One atomic count (an array cannot hold an `Atomic` itself).
private final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

/// Prometheus text exposition format 0.0.4, written family by family.
public struct Exposition: Sendable {
    /// A metric family's type.
    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    /// The `Content-Type` of the format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The text so far.
    public private(set) var text = ""

    /// An empty exposition.
    public init() {}

    /// Starts a family: its HELP and TYPE lines.
    public mutating func family(_ name: String, _ kind: Kind, _ help: String) {
        text += "# HELP \(name) \(Self.escape(help, quote: false))\n# TYPE \(name) \(kind.rawValue)\n"
    }

    /// One sample of the current family.
    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: some Numeric & CustomStringConvertible) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1, quote: true))\"" }.joined(separator: ",") + "}"
        }
        text += " \(value)\n"
    }

    /// `bazar_applied`: what the replica reports as `applied` in `/health`.
    public mutating func applied(_ applied: Int64) {
        family("bazar_applied", .gauge, "The replica's applied number, as in /health (catalog: the last write applied; "
               + "order: the number up to which every order is held).")
        sample("bazar_applied", [], applied)
    }

    /// Appends lines already in the format (one family's samples gathered elsewhere).
    public mutating func append(lines: [String]) {
        for line in lines { text += line + "\n" }
    }

    /// A 200 response carrying the text, never to be cached.
    public var response: Response {
        Response(status: 200, headers: [("Content-Type", Self.contentType), ("Cache-Control", "no-store")],
                 body: Array(text.utf8))
    }

    /// The format's escapes: backslash and newline, and in label values the double quote.
    public static func escape(_ text: String, quote: Bool) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\"" where quote: out += "\\\""
            default: out.append(character)
            }
        }
        return out
    }
}
