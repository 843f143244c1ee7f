import Basics
/// A validated `POST /books` body: one book `{"title", "topic", "price", "stock"}` (all four,
/// nothing else), or a JSON array of such objects, added together as one write (the bulk import
/// sends arrays).
public struct NewBooks: Sendable, Equatable {
    /// One book to add, before it has an id and a version.
    public struct Entry: Sendable, Equatable {
        public var title: String
        public var topic: String
        public var price: Double
        public var stock: Int64

        /// The book this entry becomes under `id` at `version`.
        public func book(id: Int64, version: Int64) -> Book {
            Book(id: id, title: title, topic: topic, price: price, stock: stock, version: version)
        }
    }

    /// The books, in the order given.
    public var entries: [Entry]
    /// Whether the body was an array (the answer is then `{"books": [...]}`).
    public var isList: Bool

    /// The most books one array may hold.
    public static let maximumCount = 1000

    /// Parses a body; `bad_request` names the first problem (and, in an array, the book's index).
    public static func parse(_ body: [UInt8]) throws(APIError) -> NewBooks {
        guard let json = try? JSON.parse(body) else { throw .badRequest("The body must be a JSON object or an array of them.") }
        if let items = json.arrayValue {
            guard (1...maximumCount).contains(items.count) else {
                throw .badRequest("An array of books must hold 1 to \(maximumCount) of them.")
            }
            var entries: [Entry] = []
            for (index, item) in items.enumerated() {
                do {
                    entries.append(try entry(item))
                } catch {
                    throw .badRequest("Book \(index): \(error.message)")
                }
            }
            return NewBooks(entries: entries, isList: true)
        }
        return NewBooks(entries: [try entry(json)], isList: false)
    }

    /// The answer for the books these entries became: the book itself, or `{"books": [...]}`
    /// for an array.
    public func answer(_ books: [Book]) -> JSON {
        isList || books.count != 1 ? .object([("books", .array(books.map(\.json)))]) : books[0].json
    }

    private static let keys: Set = ["title", "topic", "price", "stock"]

    private static func entry(_ json: JSON) throws(APIError) -> Entry {
        guard let members = json.objectMembers else { throw .badRequest("A book must be a JSON object.") }
        if let unknown = members.first(where: { !keys.contains($0.0) }) {
            throw .badRequest("Unknown key \"\(unknown.0)\": a book has title, topic, price and stock.")
        }
        guard let title = json["title"], let topic = json["topic"], let price = json["price"], let stock = json["stock"] else {
            throw .badRequest("A book needs title, topic, price and stock.")
        }
        return Entry(title: try BookFields.text(title, "title"), topic: try BookFields.text(topic, "topic"),
                     price: try BookFields.price(price), stock: try BookFields.stock(stock))
    }
}
