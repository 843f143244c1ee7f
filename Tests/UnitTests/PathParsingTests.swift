@testable import BazarCore
import HTTPMessages
import XCTest

final class PathParsingTests: XCTestCase {
    /// The APIError `body` throws, or nil (with a failure) when it returns.
    private func apiError<T>(_ body: () throws(APIError) -> T, file: StaticString = #filePath, line: UInt = #line) -> APIError? {
        do {
            let value = try body()
            XCTFail("expected an error, got \(value)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    private func segments(_ path: String) -> [String]? {
        PathParsing.segments(path)?.map(String.init)
    }

    // MARK: segments

    func testSegmentsOfOrdinaryPaths() {
        XCTAssertEqual(segments("/info/6"), ["info", "6"])
        XCTAssertEqual(segments("/health"), ["health"])
        XCTAssertEqual(segments("/catalog-primary/takes"), ["catalog-primary", "takes"])
        XCTAssertEqual(segments("/search/distributed%20systems"), ["search", "distributed%20systems"])
    }

    func testSegmentsOfRootIsEmpty() {
        XCTAssertEqual(segments("/"), [])
    }

    func testTrailingAndDoubledSlashesKeepEmptySegments() {
        // So `/info/6/` and `/info//6` do not look like `/info/6` to a router counting segments.
        XCTAssertEqual(segments("/info/6/"), ["info", "6", ""])
        XCTAssertEqual(segments("/info/"), ["info", ""])
        XCTAssertEqual(segments("/info//6"), ["info", "", "6"])
        XCTAssertEqual(segments("//"), ["", ""])
    }

    func testPathWithoutLeadingSlashIsRejected() {
        XCTAssertNil(segments(""))
        XCTAssertNil(segments("info/6"))
        XCTAssertNil(segments("info"))
        XCTAssertNil(segments(" /info/6"))
    }

    func testNonASCIIAndControlCharactersAreRejected() {
        XCTAssertNil(segments("/search/café"))
        XCTAssertNil(segments("/search/€"))
        XCTAssertNil(segments("/search/a b"))
        XCTAssertNil(segments("/search/a\tb"))
        XCTAssertNil(segments("/search/a\u{7F}"))
        XCTAssertNil(segments("/search/a\u{0}"))
        XCTAssertNil(segments("/info/6\n"))
        XCTAssertNotNil(segments("/search/caf%C3%A9"))
        XCTAssertNotNil(segments("/a/~!$&'()*+,;=:@"))
    }

    // MARK: positiveID

    func testPositiveIDAcceptsPositiveDecimalIntegersUpToInt64Max() throws {
        XCTAssertEqual(try PathParsing.positiveID("1"), 1)
        XCTAssertEqual(try PathParsing.positiveID("6"), 6)
        XCTAssertEqual(try PathParsing.positiveID("007"), 7)
        XCTAssertEqual(try PathParsing.positiveID("9223372036854775807"), Int64.max)
        XCTAssertEqual(try PathParsing.positiveID("0009223372036854775807"), Int64.max)
    }

    func testPositiveIDRejectsEverythingElseAsBadRequest() {
        let rejected = ["", "0", "00", "-1", "+1", "-0", "9223372036854775808", "18446744073709551616",
                        "99999999999999999999999999", "1e3", "1.0", "1.", "0x10", " 1", "1 ", "1 2", "one",
                        "%31", "١", "１", "6a", "a6"]
        for text in rejected {
            let error = apiError { () throws(APIError) in try PathParsing.positiveID(Substring(text)) }
            XCTAssertEqual(error?.status, 400, "\(text.debugDescription)")
            XCTAssertEqual(error?.code, "bad_request", "\(text.debugDescription)")
        }
    }

    func testPositiveIDOfASubstringOfALargerPath() throws {
        let parts = try XCTUnwrap(PathParsing.segments("/orders/17"))
        XCTAssertEqual(try PathParsing.positiveID(parts[1]), 17)
    }

    // MARK: decodeSegment

    func testDecodeSegment() throws {
        XCTAssertEqual(try PathParsing.decodeSegment("plain"), "plain")
        XCTAssertEqual(try PathParsing.decodeSegment(""), "")
        XCTAssertEqual(try PathParsing.decodeSegment("distributed%20systems"), "distributed systems")
        XCTAssertEqual(try PathParsing.decodeSegment("a%2Fb"), "a/b")
        XCTAssertEqual(try PathParsing.decodeSegment("a%2fb"), "a/b")
        XCTAssertEqual(try PathParsing.decodeSegment("%E2%82%AC"), "€")
        XCTAssertEqual(try PathParsing.decodeSegment("%e2%82%ac"), "€")
        XCTAssertEqual(try PathParsing.decodeSegment("caf%C3%A9"), "café")
        XCTAssertEqual(try PathParsing.decodeSegment("%25"), "%")
        XCTAssertEqual(try PathParsing.decodeSegment("%2520"), "%20")   // decoded once only
        XCTAssertEqual(try PathParsing.decodeSegment("a+b"), "a+b")     // `+` is not a space in a path
        XCTAssertEqual(try PathParsing.decodeSegment("%F0%9F%93%9A"), "📚")
    }

    func testDecodeSegmentRejectsMalformedEscapes() {
        for text in ["%", "%G1", "%1G", "%2", "a%", "a%2", "%%", "% 20", "%-1"] {
            let error = apiError { () throws(APIError) in try PathParsing.decodeSegment(Substring(text)) }
            XCTAssertEqual(error?.status, 400, text)
            XCTAssertEqual(error?.code, "bad_request", text)
        }
    }

    func testDecodeSegmentRejectsControlCharacters() {
        for text in ["%00", "a%00b", "%0A", "%0D", "%09", "%1F", "%7F"] {
            let error = apiError { () throws(APIError) in try PathParsing.decodeSegment(Substring(text)) }
            XCTAssertEqual(error?.status, 400, text)
        }
    }

    func testDecodeSegmentRejectsInvalidUTF8() {
        for text in ["%FF", "%C3", "%C3%28", "%E2%82", "%C0%AF", "%ED%A0%80", "%F8%88%80%80%80", "%80"] {
            let error = apiError { () throws(APIError) in try PathParsing.decodeSegment(Substring(text)) }
            XCTAssertEqual(error?.status, 400, text)
            XCTAssertEqual(error?.code, "bad_request", text)
        }
    }

    // MARK: encodeSegment

    func testEncodeSegmentKeepsUnreservedAndEscapesTheRest() {
        XCTAssertEqual(PathParsing.encodeSegment("abcXYZ019-._~"), "abcXYZ019-._~")
        XCTAssertEqual(PathParsing.encodeSegment("distributed systems"), "distributed%20systems")
        XCTAssertEqual(PathParsing.encodeSegment("a/b"), "a%2Fb")
        XCTAssertEqual(PathParsing.encodeSegment("100%"), "100%25")
        XCTAssertEqual(PathParsing.encodeSegment("€"), "%E2%82%AC")
        XCTAssertEqual(PathParsing.encodeSegment("a?b#c&d=e+f"), "a%3Fb%23c%26d%3De%2Bf")
        XCTAssertEqual(PathParsing.encodeSegment(""), "")
    }

    func testEncodeThenDecodeRoundTrips() throws {
        let texts = ["distributed systems", "undergraduate school", "a/b/c", "100%", "€uro", "Grüße", "日本語",
                     "📚 books", "a?b#c&d=e", "%20", "..", "~tilde", "quote\"s", "back\\slash", "", " lead", "trail "]
        for text in texts {
            let encoded = PathParsing.encodeSegment(text)
            // The encoded form is one valid segment of a path.
            XCTAssertEqual(PathParsing.segments("/search/" + encoded)?.count, 2, text)
            XCTAssertEqual(try PathParsing.decodeSegment(Substring(encoded)), text)
        }
    }

    // MARK: queryValue

    func testQueryValue() {
        XCTAssertEqual(PathParsing.queryValue("after=5", "after"), "5")
        XCTAssertEqual(PathParsing.queryValue("a=1&after=7&b=2", "after"), "7")
        XCTAssertEqual(PathParsing.queryValue("after=", "after"), "")
        XCTAssertEqual(PathParsing.queryValue("after=1&after=2", "after"), "1")
        XCTAssertEqual(PathParsing.queryValue("&&after=3&", "after"), "3")
        XCTAssertEqual(PathParsing.queryValue("a=b=c", "a"), "b=c")
        XCTAssertEqual(PathParsing.queryValue("after=%31", "after"), "%31")   // not decoded
    }

    func testQueryValueAbsent() {
        XCTAssertNil(PathParsing.queryValue("", "after"))
        XCTAssertNil(PathParsing.queryValue("after", "after"))
        XCTAssertNil(PathParsing.queryValue("afterx=1", "after"))
        XCTAssertNil(PathParsing.queryValue("xafter=1", "after"))
        XCTAssertNil(PathParsing.queryValue("x=after=1", "after"))
        XCTAssertNil(PathParsing.queryValue("After=1", "after"))
    }
}
