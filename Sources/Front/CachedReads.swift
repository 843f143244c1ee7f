import BazarCore
import Glibc
import HTTPMessages
import InternalHTTP
import TierCalls

/// `/info/{id}` and `/search/{topic}`: answered from the cache, or fetched from a catalog
/// replica through nginx's `catalog` upstream (which round-robins) and cached. The cache is
/// used only while the front holds its read lease from the primary. It holds the encoded HIT
/// answers (`CacheEntry`), so a hit costs one lookup and one write. A miss read while
/// connections wait on the main socket goes to the queue of misses (`MissQueue`); one read
/// through that queue waits on a catalog replica in the queue's own threads; any other waits on
/// a replica only while it holds one of `permits`, and without one it is refused at once. Every 200
/// carries an `ETag`, and a request whose `If-None-Match` names it gets `304 Not Modified`.
/// A request with `Cache-Control: no-cache` skips the lookup: a catalog replica answers it
/// (`X-Cache: BYPASS`) and it fills the cache as a miss does. Each page of a search is an entry
/// of its own, keyed by topic and page; every page of a topic is dropped when a book is added
/// to it.
struct CachedReads: Sendable {
    let cache: ResponseCache<CacheEntry>
    let lease: ReadLease
    let client: InternalClient
    let permits: Permits
    let misses: MissQueue
    /// Test hook: a pause between the fetch and the fill, to let a write's invalidation pass.
    let fillDelayMicroseconds: UInt32

    /// The book `id`, tagged with its version.
    func info(_ id: Int64, _ request: Request) throws(APIError) -> Response {
        try read(key: "info/\(id)", catalogPath: "/catalog/info/\(id)", tag: EntityTags.book, alsoDependsOn: [], request)
    }

    /// One page of the books of `topic` (matched ignoring case), tagged with a hash of the listing.
    func search(_ topic: String, _ page: Page, _ request: Request) throws(APIError) -> Response {
        guard !topic.isEmpty else { throw .badRequest("The topic must not be empty.") }
        guard topic.utf8.count <= 1024 else { throw .badRequest("The topic is longer than 1024 bytes.") }
        let canonical = Topic.canonical(topic)
        return try read(key: "search/\(canonical)?\(page.query)",
                        catalogPath: "/catalog/search/\(PathParsing.encodeSegment(canonical))?\(page.query)",
                        tag: EntityTags.listing, alsoDependsOn: [.topic(canonical)], request)
    }

    /// `alsoDependsOn`: what the entry depends on besides the books the replica names (a search: its topic).
    private func read(key: String, catalogPath: String, tag: ([UInt8]) -> String?, alsoDependsOn: [CacheDependency],
                      _ request: Request) throws(APIError) -> Response {
        let ifNoneMatch = request.header("If-None-Match")
        let bypass = Conditions.noCache(request.header("Cache-Control"))
        if !bypass, lease.held, let hit = cache.lookup(key) { return hit.answer(ifNoneMatch: ifNoneMatch) }
        if misses.takes(request) { return misses.redirect() }
        let label = bypass ? "BYPASS" : "MISS"
        // The queue's threads are its bound; a miss on the main socket holds a permit.
        if request.throughMissQueue {
            // nginx gave up on it while it waited (and answered 503): no catalog round trip for no one.
            if request.callerGone { throw .unavailable("The read waited too long in the queue of misses.") }
            return try fetch(key: key, catalogPath: catalogPath, tag: tag, alsoDependsOn: alsoDependsOn, label: label)
                .answer(ifNoneMatch: ifNoneMatch)
        }
        return try permits.withPermit { () throws(APIError) in
            try fetch(key: key, catalogPath: catalogPath, tag: tag, alsoDependsOn: alsoDependsOn, label: label)
        }.answer(ifNoneMatch: ifNoneMatch)
    }

    /// The replica's answer, labelled `label` (`MISS` or `BYPASS`); a 200 also fills the cache,
    /// unless an invalidation newer than it came first or the lease is not held.
    private func fetch(key: String, catalogPath: String, tag: ([UInt8]) -> String?, alsoDependsOn: [CacheDependency],
                       label: String) throws(APIError) -> CachedRead {
        guard let fetched = try? client.send("GET", catalogPath, timeout: Timeouts.read), fetched.isAnswer else {
            throw .unavailable("No catalog replica answered.")
        }
        let upstream = fetched.header("X-Upstream").map(Response.upstream) ?? []
        let etag = fetched.status == 200 ? tag(fetched.body) : nil
        let answer = CachedRead(status: fetched.status, etag: etag, cache: label, upstream: upstream, body: fetched.body)
        if fetched.status == 200, cache.capacity > 0, let seq = fetched.header("X-Bazar-Seq").flatMap({ Int64($0) }) {
            let books = (fetched.header("X-Bazar-Books") ?? "").split(separator: ",").compactMap { Int64($0) }
            let hit = CacheEntry(CachedRead(status: 200, etag: etag, cache: "HIT", upstream: upstream, body: fetched.body))
            if fillDelayMicroseconds > 0 { usleep(fillDelayMicroseconds) }
            if lease.held { cache.fill(key, hit, dependencies: books.map(CacheDependency.book) + alsoDependsOn, seq: seq) }
        }
        return answer
    }
}
