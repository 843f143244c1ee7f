import Basics
import BazarCore
import HTTPMessages
import Wire

/// The catalog's read answers, the same on the primary and the backup. Each carries the sequence
/// number it reflects (`X-Bazar-Seq`) so the front can refuse to cache a copy older than an
/// invalidation it has seen.
struct CatalogReads: Sendable {
    let name: String
    let memory: CatalogMemory

    func info(_ id: Int64) -> Response {
        let (body, seq) = memory.encodedBook(id)
        guard let body else { return APIError.notFound("No book has id \(id).").response(headers: upstream) }
        return Response(status: 200, headers: [Response.jsonContentType] + upstream + [("X-Bazar-Seq", "\(seq)"), ("X-Bazar-Books", "\(id)")],
                        body: body)
    }

    /// One page of a topic's books: `{"topic", "items": [{"id", "title"}], "next"}`, put
    /// together from the items encoded in memory.
    func search(_ topic: String, _ page: Page) -> Response {
        let canonical = Topic.canonical(topic)
        let found = memory.search(canonical, page)
        let body = EncodedJSON.object([("topic", JSON.string(canonical).encoded()),
                                       ("items", [UInt8(ascii: "[")] + found.items + [UInt8(ascii: "]")]),
                                       ("next", found.next.encoded())])
        return Response(status: 200, headers: [Response.jsonContentType] + upstream
                        + [("X-Bazar-Seq", "\(found.seq)"), ("X-Bazar-Books", found.ids.map(String.init).joined(separator: ","))],
                        body: body)
    }

    var upstream: [(String, String)] { Response.upstream(name) }
}
