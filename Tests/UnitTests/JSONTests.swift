@testable import Basics
import XCTest

final class JSONTests: XCTestCase {
    // MARK: Helpers

    private func encodedText(_ value: JSON) -> String {
        String(decoding: value.encoded(), as: UTF8.self)
    }

    /// Parses `text` and checks that re-encoding gives back exactly `text`.
    private func assertRoundTrip(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual((try? JSON.parse(text)).map(encodedText), text, file: file, line: line)
    }

    private func assertRejected(
        _ bytes: [UInt8], maxDepth: Int = 32, message: String? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            let value = try JSON.parse(bytes, maxDepth: maxDepth)
            XCTFail("accepted \(bytes) as \(value)", file: file, line: line)
        } catch {
            XCTAssertGreaterThanOrEqual(error.offset, 0, file: file, line: line)
            XCTAssertLessThanOrEqual(error.offset, bytes.count, file: file, line: line)
            if let message {
                XCTAssertEqual(error.message, message, file: file, line: line)
            }
        }
    }

    private func assertRejected(
        _ text: String, maxDepth: Int = 32, message: String? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        assertRejected(Array(text.utf8), maxDepth: maxDepth, message: message, file: file, line: line)
    }

    // MARK: Round trips

    func testScalarsRoundTrip() throws {
        for text in ["null", "true", "false", "0", "-0", "-3", "20.0", "1e5", "1E+5", "2.5e-3", "\"\"", "\"abc\""] {
            assertRoundTrip(text)
        }
    }

    func testCompositesRoundTrip() {
        assertRoundTrip("[]")
        assertRoundTrip("{}")
        assertRoundTrip("[1,[2,[3,{}]],\"x\",null]")
        assertRoundTrip("{\"b\":1,\"a\":{\"c\":[true,false]},\"\":null}")
    }

    func testWhitespaceIsAllowedAroundTokens() throws {
        let value = try JSON.parse(" \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : null }\n ")
        XCTAssertEqual(encodedText(value), "{\"a\":[1,2],\"b\":null}")
    }

    func testParsedStructure() throws {
        let value = try JSON.parse("{\"name\":\"Bazar\",\"tags\":[\"a\",\"b\"],\"ok\":true,\"n\":null,\"price\":20.5}")
        XCTAssertEqual(value["name"]?.stringValue, "Bazar")
        XCTAssertEqual(value["tags"]?.arrayValue, [.string("a"), .string("b")])
        XCTAssertEqual(value["ok"]?.boolValue, true)
        XCTAssertEqual(value["n"], .null)
        XCTAssertEqual(value["price"], .number("20.5"))
        XCTAssertNil(value["missing"])
        XCTAssertEqual(value.objectMembers?.map(\.0), ["name", "tags", "ok", "n", "price"])
    }

    func testEncodeBuiltValue() {
        let value = JSON.object([
            ("id", .int(7)),
            ("price", .double(20)),
            ("items", .array([.string("x"), .bool(false), .null])),
        ])
        XCTAssertEqual(encodedText(value), "{\"id\":7,\"price\":20.0,\"items\":[\"x\",false,null]}")
        XCTAssertEqual(try JSON.parse(value.encoded()), value)
    }

    func testAppendToExistingBuffer() {
        var out = Array("x=".utf8)
        JSON.array([.int(1), .int(2)]).append(to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "x=[1,2]")
    }

    func testEncodedHasNoTrailingNewline() {
        XCTAssertEqual(JSON.null.encoded(), Array("null".utf8))
    }

    // MARK: Equality

    func testObjectEqualityIsOrderSensitive() {
        let ab = JSON.object([("a", .int(1)), ("b", .int(2))])
        let ba = JSON.object([("b", .int(2)), ("a", .int(1))])
        XCTAssertEqual(ab, JSON.object([("a", .int(1)), ("b", .int(2))]))
        XCTAssertNotEqual(ab, ba)
        XCTAssertNotEqual(ab, JSON.object([("a", .int(1))]))
        XCTAssertNotEqual(ab, JSON.object([("a", .int(1)), ("b", .int(3))]))
    }

    func testEqualityAcrossKinds() {
        XCTAssertNotEqual(JSON.number("1"), .number("1.0"))
        XCTAssertNotEqual(JSON.string("1"), .number("1"))
        XCTAssertNotEqual(JSON.null, .bool(false))
        XCTAssertNotEqual(JSON.array([]), .object([]))
        XCTAssertEqual(JSON.array([.null, .int(1)]), .array([.null, .int(1)]))
    }

    // MARK: Accessors

    func testAccessorsReturnNilForOtherKinds() {
        let values: [JSON] = [.null, .bool(true), .number("1"), .string("s"), .array([]), .object([])]
        XCTAssertEqual(values.compactMap(\.boolValue), [true])
        XCTAssertEqual(values.compactMap(\.stringValue), ["s"])
        XCTAssertEqual(values.compactMap(\.int64Value), [1])
        XCTAssertEqual(values.compactMap(\.doubleValue), [1])
        XCTAssertEqual(values.compactMap(\.arrayValue).count, 1)
        XCTAssertEqual(values.compactMap(\.objectMembers).count, 1)
        XCTAssertEqual(values.compactMap { $0["k"] }.count, 0)
    }

    func testSubscriptReturnsFirstMatch() {
        let value = JSON.object([("k", .int(1)), ("k", .int(2))])
        XCTAssertEqual(value["k"], .int(1))
    }

    func testInt64Value() throws {
        XCTAssertEqual(try JSON.parse("9223372036854775807").int64Value, Int64.max)
        XCTAssertEqual(try JSON.parse("-9223372036854775808").int64Value, Int64.min)
        XCTAssertNil(try JSON.parse("9223372036854775808").int64Value)
        XCTAssertNil(try JSON.parse("-9223372036854775809").int64Value)
        XCTAssertEqual(try JSON.parse("-0").int64Value, 0)
        XCTAssertEqual(try JSON.parse("42").int64Value, 42)
        XCTAssertNil(try JSON.parse("5.0").int64Value)
        XCTAssertNil(try JSON.parse("1e2").int64Value)
        XCTAssertNil(try JSON.parse("1E2").int64Value)
        XCTAssertNil(try JSON.parse("\"5\"").int64Value)
        XCTAssertEqual(JSON.int(Int64.min).int64Value, Int64.min)
    }

    func testDoubleValue() throws {
        XCTAssertEqual(try JSON.parse("20.5").doubleValue, 20.5)
        XCTAssertEqual(try JSON.parse("1e2").doubleValue, 100)
        XCTAssertEqual(try JSON.parse("5").doubleValue, 5)
        XCTAssertEqual(try JSON.parse("9223372036854775808").doubleValue, 9_223_372_036_854_775_808)
        let negativeZero = try XCTUnwrap(try JSON.parse("-0").doubleValue)
        XCTAssertEqual(negativeZero, 0)
        XCTAssertEqual(negativeZero.sign, .minus)
        XCTAssertNil(try JSON.parse("1e999").doubleValue)
        XCTAssertNil(try JSON.parse("-1e999").doubleValue)
        XCTAssertEqual(try JSON.parse("1e-999").doubleValue, 0)
        XCTAssertNil(try JSON.parse("true").doubleValue)
    }

    // MARK: Number constructors

    func testIntConstructor() {
        XCTAssertEqual(JSON.int(-3), .number("-3"))
        XCTAssertEqual(JSON.int(Int64.max), .number("9223372036854775807"))
    }

    func testDoubleFormatting() throws {
        XCTAssertEqual(JSON.double(20.0), .number("20.0"))
        XCTAssertEqual(JSON.double(20.5), .number("20.5"))
        XCTAssertEqual(JSON.double(0.1), .number("0.1"))
        XCTAssertEqual(JSON.double(-3), .number("-3.0"))
        XCTAssertEqual(JSON.double(0), .number("0.0"))
        XCTAssertEqual(JSON.double(-0.0), .number("-0.0"))
        XCTAssertEqual(JSON.double(1e14), .number("100000000000000.0"))
        XCTAssertEqual(JSON.double(999_999_999_999_999), .number("999999999999999.0"))
        XCTAssertEqual(JSON.double(1e21), .number("1e+21"))
        XCTAssertEqual(JSON.double(1e-5), .number("1e-05"))
        for value in [20.0, 20.5, 0.1, 1e21, 1e-5, -0.0, 1.7976931348623157e308, Double.leastNonzeroMagnitude, 123.456] {
            // Every formatted double is valid JSON and reads back to the same value.
            let reparsed = try JSON.parse(JSON.double(value).encoded())
            XCTAssertEqual(reparsed, JSON.double(value))
            XCTAssertEqual(reparsed.doubleValue, value)
        }
    }

    // MARK: Strings and escapes

    func testParseEscapes() throws {
        let value = try JSON.parse(#""\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC""#)
        XCTAssertEqual(value, .string("\"\\/\u{8}\u{C}\n\r\tAé€"))
    }

    func testEncodeEscapes() {
        XCTAssertEqual(encodedText(.string("a\"b\\c/")), #""a\"b\\c/""#)
        XCTAssertEqual(encodedText(.string("\n\r\t\u{8}\u{C}")), #""\n\r\t\b\f""#)
        XCTAssertEqual(encodedText(.string("\u{0}\u{1}\u{1F}")), #""\u0000\u0001\u001f""#)
        XCTAssertEqual(encodedText(.string("\u{7F}")), "\"\u{7F}\"")
        XCTAssertEqual(encodedText(.object([("k\"", .string("v"))])), #"{"k\"":"v"}"#)
    }

    func testNonASCIIIsWrittenAsRawUTF8() {
        let text = "héllo € 😀 \u{2028}"
        XCTAssertEqual(JSON.string(text).encoded(), [0x22] + Array(text.utf8) + [0x22])
    }

    func testAllControlCharactersRoundTrip() throws {
        let text = String(decoding: (0..<0x20).map { UInt8($0) } + Array("end".utf8), as: UTF8.self)
        XCTAssertEqual(try JSON.parse(JSON.string(text).encoded()), .string(text))
    }

    func testRawUTF8InStrings() throws {
        XCTAssertEqual(try JSON.parse("\"héllo € 😀\""), .string("héllo € 😀"))
        // Boundary scalars: U+0080, U+07FF, U+0800, U+FFFF, U+10000, U+10FFFF.
        let text = "\u{80}\u{7FF}\u{800}\u{D7FF}\u{E000}\u{FFFF}\u{10000}\u{10FFFF}"
        XCTAssertEqual(try JSON.parse([0x22] + Array(text.utf8) + [0x22]), .string(text))
    }

    func testSurrogatePairs() throws {
        XCTAssertEqual(try JSON.parse(#""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(try JSON.parse(#""x\uD834\uDD1Ey""#), .string("x𝄞y"))
        XCTAssertEqual(try JSON.parse(#""\uDBFF\uDFFF""#), .string("\u{10FFFF}"))
    }

    func testLoneSurrogatesRejected() {
        assertRejected(#""\ud83d""#, message: "lone surrogate")
        assertRejected(#""\ud83dx""#, message: "lone surrogate")
        assertRejected(#""\ud83d\n""#, message: "lone surrogate")
        assertRejected(#""\ud83d\u0041""#, message: "lone surrogate")
        assertRejected(#""\ude00""#, message: "lone surrogate")
        assertRejected(#""\ude00\ud83d""#, message: "lone surrogate")
    }

    func testInvalidEscapesRejected() {
        assertRejected(#""\x""#, message: "invalid escape")
        assertRejected(#""\'""#, message: "invalid escape")
        assertRejected(#""\u12""#)
        assertRejected(#""\u12G4""#, message: "invalid \\u escape")
        assertRejected(#""\"#)
        assertRejected([0x22, 0x5C])
    }

    func testInvalidUTF8Rejected() {
        assertRejected([0x22, 0xFF, 0x22], message: "invalid UTF-8")
        let invalid: [[UInt8]] = [
            [0x80],                    // lone continuation byte
            [0xC0, 0x80],              // overlong NUL
            [0xC1, 0xBF],              // overlong
            [0xE0, 0x80, 0x80],        // overlong 3-byte
            [0xED, 0xA0, 0x80],        // encoded surrogate U+D800
            [0xF0, 0x80, 0x80, 0x80],  // overlong 4-byte
            [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
            [0xF5, 0x80, 0x80, 0x80],  // invalid lead byte
            [0xC3],                    // truncated before the closing quote
            [0xE2, 0x82],              // truncated 3-byte
            [0xE2, 0x28, 0xA1],        // bad continuation
        ]
        for bytes in invalid {
            assertRejected([0x22] + bytes + [0x22], message: "invalid UTF-8")
        }
        assertRejected([0x22, 0xE2, 0x82])  // truncated at end of input
    }

    func testRawControlCharactersRejected() {
        for byte in UInt8(0)..<0x20 {
            assertRejected([0x22, byte, 0x22], message: "control character in string")
        }
    }

    func testUnterminatedStringRejected() {
        assertRejected("\"abc", message: "unterminated string")
        assertRejected("\"", message: "unterminated string")
    }

    // MARK: Numbers

    func testValidNumbersKeepTheirText() throws {
        for text in ["0", "-0", "0.0", "-0.5", "10", "1e5", "1E5", "1e+5", "1e-5", "1.5E-05", "123456789012345678901234567890"] {
            XCTAssertEqual(try JSON.parse(text), .number(text), text)
        }
    }

    func testInvalidNumbersRejected() {
        for text in ["01", "-01", "00", "+1", ".5", "1.", "-", "-.5", "1e", "1e+", "1E-", "1.e5", "0x10",
                     "NaN", "Infinity", "-Infinity", "nan", "1 2", "- 1", "[01]", "[1.]", "{\"a\":01}"] {
            assertRejected(text)
        }
        assertRejected("01", message: "leading zero in number")
    }

    // MARK: Structure

    func testInvalidDocumentsRejected() {
        for text in ["", " ", "\n", "[", "]", "{", "}", "[1,]", "[,1]", "[1 2]", "{\"a\":1,}", "{,}", "{\"a\"}",
                     "{\"a\" 1}", "{\"a\":}", "{1:2}", "{a:1}", "{'a':1}", "['a']", "tru", "truex", "nul", "True",
                     "null null", "[] x", "{}{}", "[1]]", "\u{FEFF}1", "[\"a\"\"b\"]", "\u{0}"] {
            assertRejected(text)
        }
        assertRejected("", message: "unexpected end of input")
        assertRejected("[1,]", message: "unexpected character")
        assertRejected("{\"a\":1,}", message: "expected string key")
        assertRejected("1 x", message: "unexpected trailing characters")
    }

    func testErrorOffsets() {
        XCTAssertThrowsError(try JSON.parse("[1, x]")) { error in
            XCTAssertEqual(error as? JSON.ParseError, JSON.ParseError(message: "unexpected character", offset: 4))
        }
        XCTAssertThrowsError(try JSON.parse("{\"a\":1,\"a\":2}")) { error in
            XCTAssertEqual(error as? JSON.ParseError, JSON.ParseError(message: "duplicate key", offset: 7))
        }
    }

    func testDuplicateKeysRejected() {
        assertRejected("{\"a\":1,\"a\":2}", message: "duplicate key")
        assertRejected("{\"a\":1,\"b\":{\"c\":1,\"c\":1}}", message: "duplicate key")
        assertRejected(#"{"a":1,"\u0061":2}"#, message: "duplicate key")
        // Large objects use a hash set; duplicates must still be found, early and late.
        let keys = (0..<50).map { "\"k\($0)\":\($0)" }
        assertRejected("{" + (keys + ["\"k3\":0"]).joined(separator: ",") + "}", message: "duplicate key")
        assertRejected("{" + (keys + ["\"k49\":0"]).joined(separator: ",") + "}", message: "duplicate key")
        XCTAssertEqual(try JSON.parse("{" + keys.joined(separator: ",") + "}").objectMembers?.count, 50)
    }

    func testSameKeyInSiblingObjectsAllowed() throws {
        let value = try JSON.parse("[{\"a\":1},{\"a\":2}]")
        XCTAssertEqual(value.arrayValue?.compactMap { $0["a"]?.int64Value }, [1, 2])
    }

    func testNestingDepth() throws {
        func nested(_ depth: Int) -> String {
            String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        }
        XCTAssertNoThrow(try JSON.parse(nested(32)))
        assertRejected(nested(33), message: "nesting too deep")
        XCTAssertNoThrow(try JSON.parse(nested(3), maxDepth: 3))
        assertRejected(nested(4), maxDepth: 3, message: "nesting too deep")
        assertRejected("{\"a\":{\"b\":[1]}}", maxDepth: 2, message: "nesting too deep")
        XCTAssertEqual(try JSON.parse("7", maxDepth: 0), .number("7"))
        assertRejected("[]", maxDepth: 0, message: "nesting too deep")
        // Very deep input fails fast instead of overflowing the stack.
        assertRejected(String(repeating: "[", count: 100_000))
        assertRejected(String(repeating: "{\"a\":", count: 100_000))
    }

    func testParseStringAndBytesAgree() throws {
        let text = "{\"a\":[1,\"é\"]}"
        XCTAssertEqual(try JSON.parse(text), try JSON.parse(Array(text.utf8)))
    }

    func testTruncatedInputsNeverCrash() throws {
        let document = Array(#"{"a":[1,-2.5e+3,true,false,null,"x\u00e9\ud83d\ude00é😀"],"b":{"c":{}}}"#.utf8)
        XCTAssertNoThrow(try JSON.parse(document))
        for length in 0..<document.count {
            assertRejected(Array(document[..<length]))
        }
    }

    func testLargeArrayParsesInReasonableTime() throws {
        let text = "[" + Array(repeating: "{\"k\":\"v\\n\",\"n\":1.5}", count: 20_000).joined(separator: ",") + "]"
        let value = try JSON.parse(text)
        XCTAssertEqual(value.arrayValue?.count, 20_000)
        XCTAssertEqual(encodedText(value), text)
    }
}
