import BazarCore
import HTTPMessages

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

    /// One page of a topic's books: `{"topic", "items": [{"id", "title"}], "next"}`.
    func search(_ topic: String, _ page: Page) -> Response {
        let canonical = Topic.canonical(topic)
        let found = memory.search(canonical, page)
        let items = found.books.map { JSON.object([("id", .int($0.id)), ("title", .string($0.title))]) }
        let body = JSON.object([("topic", .string(canonical)), ("items", .array(items)), ("next", found.next)])
        return .json(200, body, headers: upstream + [("X-Bazar-Seq", "\(found.seq)"),
                                                     ("X-Bazar-Books", found.books.map { "\($0.id)" }.joined(separator: ","))])
    }

    var upstream: [(String, String)] { Response.upstream(name) }
}
