import Basics
import BazarCore

/// The catalog primary's final word on a write whose caller lost its answer
/// (`POST /catalog-primary/settle[/<id>]`): not applied (the attempt is refused for good), or
/// applied, with what it left: the book as it is now and, for a take, its order; for an
/// addition, the books added.
public struct SettleAnswer: WireMessage, Sendable, Equatable {
    /// Whether the write was applied.
    public var applied: Bool
    /// The book written, as it is now (a write on a book).
    public var book: Book?
    /// The order of a take.
    public var order: Order?
    /// The books an addition added.
    public var books: [Book]?

    /// An answer from its parts.
    public init(applied: Bool, book: Book? = nil, order: Order? = nil, books: [Book]? = nil) {
        self.applied = applied
        self.book = book
        self.order = order
        self.books = books
    }

    /// `{"applied": false}` or `{"applied": true, "book"?, "order"?, "books"?}` (the order with its key).
    public var json: JSON {
        guard applied else { return .object([("applied", .bool(false))]) }
        var members: [(String, JSON)] = [("applied", .bool(true))]
        if let book { members.append(("book", book.json)) }
        if let order { members.append(("order", order.internalJSON)) }
        if let books { members.append(("books", .array(books.map(\.json)))) }
        return .object(members)
    }

    /// Reads an answer; nil when `applied` is missing or a part present is malformed.
    public init?(json: JSON) {
        guard let applied = json["applied"]?.boolValue else { return nil }
        self.init(applied: applied)
        if let book = json["book"] {
            guard let read = Book(json: book) else { return nil }
            self.book = read
        }
        if let order = json["order"] {
            guard let read = Order(json: order) else { return nil }
            self.order = read
        }
        if let books = json["books"] {
            guard let items = books.arrayValue else { return nil }
            let read = items.compactMap(Book.init(json:))
            guard read.count == items.count else { return nil }
            self.books = read
        }
    }
}
