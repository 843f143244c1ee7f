import Basics
@testable import BazarCore
import XCTest

/// `POST /books` bodies: all four fields, nothing else, within API.md's bounds.
final class NewBooksTests: XCTestCase {
    private func parse(_ body: String) throws -> NewBooks {
        try NewBooks.parse(Array(body.utf8))
    }

    private func assertRefused(_ body: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(body), body, file: file, line: line) { error in
            XCTAssertEqual((error as? APIError)?.status, 400, body, file: file, line: line)
            XCTAssertTrue((error as? APIError)?.message.contains(fragment) == true, "\(error) for \(body)", file: file, line: line)
        }
    }

    func testOneBookAndAList() throws {
        let one = try parse(#"{"stock": 3, "price": 12.5, "topic": "Distributed Systems", "title": "Raft"}"#)
        XCTAssertEqual(one, NewBooks(entries: [.init(title: "Raft", topic: "Distributed Systems", price: 12.5, stock: 3)], isList: false))
        let book = Book(id: 8, title: "Raft", topic: "Distributed Systems", price: 12.5, stock: 3, version: 4)
        XCTAssertEqual(one.answer([book]), book.json)
        let list = try parse(#"[{"title":"a","topic":"t","price":1,"stock":0},{"title":"ünïcødé ✓","topic":"t","price":2e1,"stock":9}]"#)
        XCTAssertEqual(list.entries.map(\.title), ["a", "ünïcødé ✓"])
        XCTAssertEqual(list.entries.map(\.price), [1, 20])
        XCTAssertEqual(list.answer([book]), .object([("books", .array([book.json]))]))
        XCTAssertEqual(try parse(#"{"title":"\#(String(repeating: "é", count: 200))","topic":"t","price":1,"stock":0}"#).entries.count, 1)
    }

    func testBadBodies() {
        assertRefused("", "JSON")
        assertRefused("[]", "1 to 1000")
        assertRefused("[" + Array(repeating: #"{"title":"a","topic":"t","price":1,"stock":0}"#, count: 1001).joined(separator: ",") + "]",
                      "1 to 1000")
        assertRefused(#""a book""#, "object")
        assertRefused(#"{"title":"a","topic":"t","price":1}"#, "needs title, topic, price and stock")
        assertRefused(#"{"title":"a","topic":"t","price":1,"stock":0,"isbn":"x"}"#, "Unknown key \"isbn\"")
        assertRefused(#"{"title":"","topic":"t","price":1,"stock":0}"#, "title must be 1 to 200")
        assertRefused(#"{"title":"a","topic":"\#(String(repeating: "x", count: 201))","price":1,"stock":0}"#, "topic must be 1 to 200")
        assertRefused(#"{"title":"a\nb","topic":"t","price":1,"stock":0}"#, "title must be printable; it holds U+000A")
        assertRefused(#"{"title":"a\u0085","topic":"t","price":1,"stock":0}"#, "it holds U+0085")
        assertRefused(#"{"title":"a","topic":"\u007f","price":1,"stock":0}"#, "topic must be printable; it holds U+007F")
        assertRefused(#"{"title":1,"topic":"t","price":1,"stock":0}"#, "title must be a string")
        for price in ["0", "-1", "\"5\"", "1e999", "1e12", "null", "5e-324", "0.009", "1000000000.01", "-0.0"] {
            assertRefused(#"{"title":"a","topic":"t","price":\#(price),"stock":0}"#, "price must be a number from 0.01 to 1000000000.")
        }
        for stock in ["-1", "1.5", "1e2", "\"3\"", "1000000000001", "true"] {
            assertRefused(#"{"title":"a","topic":"t","price":1,"stock":\#(stock)}"#, "stock must be an integer")
        }
        assertRefused(#"[{"title":"a","topic":"t","price":1,"stock":0},{"title":"a","topic":"t","price":0,"stock":0}]"#, "Book 1: price")
        assertRefused(#"{"title":"a","title":"b","topic":"t","price":1,"stock":0}"#, "JSON")
    }

    /// Printable means Unicode categories L, M, N, P, S and Zs, with no space at either end:
    /// format characters, noncharacters, private use and separators of lines are refused.
    func testTitlesAndTopicsArePrintable() throws {
        for (text, scalar) in [("a\\u200Bb", "U+200B"), ("\\u202Egnp.exe", "U+202E"), ("a\\uFFFE", "U+FFFE"), ("\\u00AD", "U+00AD"),
                               ("a\\uE000", "U+E000"), ("a\\u2028b", "U+2028"), ("a\\u0378", "U+0378"), ("\\uFEFFa", "U+FEFF")] {
            assertRefused(#"{"title":"\#(text)","topic":"t","price":1,"stock":0}"#, "title must be printable; it holds \(scalar),")
        }
        for text in [" ", "   ", " a", "a ", "\\u3000a", "a\\u00A0"] {
            assertRefused(#"{"title":"a","topic":"\#(text)","price":1,"stock":0}"#, "topic must not begin or end with a space")
        }
        for text in ["a b", "e\\u0301t\\u00E9", "\\uD83D\\uDCDA books", "\\u05E9\\u05DC\\u05D5\\u05DD", "1\\u00A02", "\\u00BFQu\\u00E9?", "x\\u3000y"] {
            XCTAssertEqual(try parse(#"{"title":"\#(text)","topic":"t","price":1,"stock":0}"#).entries.count, 1, text)
        }
        let prices = try parse(#"[{"title":"a","topic":"t","price":0.01,"stock":0},{"title":"a","topic":"t","price":1e9,"stock":0}]"#)
        XCTAssertEqual(prices.entries.map(\.price), [0.01, 1e9])
    }
}
