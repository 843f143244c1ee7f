import BazarCore
import Glibc
import HTTPMessages
import InternalHTTP
import TierCalls

/// `/info/{id}` and `/search/{topic}`: answered from the cache, or fetched from a catalog
/// replica through nginx's `catalog` upstream (which round-robins) and cached. The cache is
/// used only while the front holds its read lease from the primary. It holds the encoded HIT
/// response, so a hit costs one lookup and one write. A miss waits on a catalog replica only
/// while it holds one of `permits`; without one it is refused at once.
struct CachedReads: Sendable {
    let cache: ResponseCache
    let lease: ReadLease
    let client: InternalClient
    let permits: Permits
    /// Test hook: a pause between the fetch and the fill, to let a write's invalidation pass.
    let fillDelayMicroseconds: UInt32

    func info(_ id: Int64) throws(APIError) -> Response {
        try read(key: "info/\(id)", catalogPath: "/catalog/info/\(id)")
    }

    func search(_ topic: String) throws(APIError) -> Response {
        guard !topic.isEmpty else { throw .badRequest("The topic must not be empty.") }
        guard topic.utf8.count <= 1024 else { throw .badRequest("The topic is longer than 1024 bytes.") }
        let canonical = Topic.canonical(topic)
        return try read(key: "search/\(canonical)", catalogPath: "/catalog/search/\(PathParsing.encodeSegment(canonical))")
    }

    private func read(key: String, catalogPath: String) throws(APIError) -> Response {
        if lease.held, let hit = cache.lookup(key) { return .preencoded(status: 200, bytes: hit) }
        return try permits.withPermit { fetch(key: key, catalogPath: catalogPath) }
    }

    private func fetch(key: String, catalogPath: String) -> Response {
        guard let fetched = try? client.send("GET", catalogPath, timeout: Timeouts.read), fetched.isAnswer else {
            return APIError.unavailable("No catalog replica answered.").response()
        }
        let upstream = fetched.header("X-Upstream").map(Response.upstream) ?? []
        let miss = Response(status: fetched.status, headers: [Response.jsonContentType, ("X-Cache", "MISS")] + upstream,
                            body: fetched.body)
        if fetched.status == 200, cache.capacity > 0, let seq = fetched.header("X-Bazar-Seq").flatMap({ Int64($0) }) {
            let books = (fetched.header("X-Bazar-Books") ?? "").split(separator: ",").compactMap { Int64($0) }
            let hit = Response(status: 200, headers: [Response.jsonContentType, ("X-Cache", "HIT")] + upstream,
                               body: fetched.body)
            if fillDelayMicroseconds > 0 { usleep(fillDelayMicroseconds) }
            if lease.held { cache.fill(key, hit.encoded(), books: books, seq: seq) }
        }
        return miss
    }
}
