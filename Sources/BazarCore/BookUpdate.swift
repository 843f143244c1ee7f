import Basics
/// A validated admin update: a new price and/or a new stock level or stock change.
public struct BookUpdate: Sendable, Equatable {
    /// How the stock changes.
    public enum Stock: Sendable, Equatable {
        /// Set the stock to this level (>= 0).
        case set(Int64)
        /// Add this (possibly negative) amount; the result may not go below 0.
        case delta(Int64)
    }

    /// The new price (> 0), if any.
    public var price: Double?
    /// The stock change, if any.
    public var stock: Stock?

    /// An update from its parts.
    public init(price: Double? = nil, stock: Stock? = nil) {
        self.price = price
        self.stock = stock
    }

    /// Parses API.md's update body: an object with `price` and/or one of `stock`, `stock_delta`, nothing else.
    public static func parse(_ body: [UInt8]) throws(APIError) -> BookUpdate {
        guard let json = try? JSON.parse(body) else { throw .badRequest("The body must be a JSON object.") }
        guard let members = json.objectMembers else { throw .badRequest("The body must be a JSON object.") }
        var update = BookUpdate()
        for (key, value) in members {
            switch key {
            case "price":
                update.price = try BookFields.price(value)
            case "stock", "stock_delta":
                guard update.stock == nil else { throw .badRequest("Give stock or stock_delta, not both.") }
                guard let amount = value.int64Value, amount.magnitude <= maxStock.magnitude else {
                    throw .badRequest("\(key) must be an integer between -\(maxStock) and \(maxStock).")
                }
                if key == "stock" {
                    guard amount >= 0 else { throw .badRequest("stock must be an integer >= 0.") }
                    update.stock = .set(amount)
                } else {
                    update.stock = .delta(amount)
                }
            default:
                throw .badRequest("Unknown key \"\(key)\": only price, stock and stock_delta are allowed.")
            }
        }
        guard update.price != nil || update.stock != nil else {
            throw .badRequest("The body must set price, stock or stock_delta.")
        }
        return update
    }

    /// The largest stock level (and stock change) an update may name.
    public static let maxStock = BookFields.maxStock

    /// The book after this update: `out_of_stock` when a negative delta would take stock below 0,
    /// `bad_request` when a delta would take it above `maxStock`.
    public func applied(to book: Book) throws(APIError) -> Book {
        var book = book
        if let price { book.price = price }
        switch stock {
        case .set(let level): book.stock = level
        case .delta(let amount):
            guard book.stock + amount >= 0 else {
                throw .outOfStock("stock_delta \(amount) would take stock below 0 (stock is \(book.stock)).")
            }
            guard book.stock + amount <= Self.maxStock else {
                throw .badRequest("stock_delta \(amount) would take stock above \(Self.maxStock).")
            }
            book.stock += amount
        case nil: break
        }
        return book
    }

    /// The update as a JSON body, as the front forwards it.
    public var json: JSON {
        var members: [(String, JSON)] = []
        if let price { members.append(("price", .double(price))) }
        switch stock {
        case .set(let level): members.append(("stock", .int(level)))
        case .delta(let amount): members.append(("stock_delta", .int(amount)))
        case nil: break
        }
        return .object(members)
    }
}
