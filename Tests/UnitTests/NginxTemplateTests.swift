import Foundation
import XCTest

/// What the nginx template promises about writes.
final class NginxTemplateTests: XCTestCase {
    /// nginx counts PUT as safe to repeat and would resend a write to a second front after the
    /// first failed or timed out mid-way, so both could apply it (a restock twice, with several
    /// fronts): every public write location turns that off.
    func testPublicWritesAreNeverSentToASecondFront() throws {
        let template = try String(contentsOf: TestSupport.repoRoot.appendingPathComponent("nginx/nginx.conf.template"), encoding: .utf8)
        let writes = template.split(separator: "\n").filter { $0.contains("fastcgi_pass front_writes;") }
        XCTAssertEqual(writes.count, 6, "orders, purchases, updates and additions")
        for line in writes where !line.contains("/orders") {
            XCTAssertTrue(line.contains("fastcgi_next_upstream off;"), "\(line)")
        }
    }
}

/// The public server answers 413 itself, without a log line, to a request whose Content-Length
/// is over 64 KiB; the map that tells must be exact at the edge.
final class DeclaredBodySizeTests: XCTestCase {
    func testTheMapMatchesExactlyTheLengthsOver64KiB() throws {
        let template = try String(contentsOf: TestSupport.repoRoot.appendingPathComponent("nginx/nginx.conf.template"), encoding: .utf8)
        let lines = template.split(separator: "\n")
        let start = try XCTUnwrap(lines.firstIndex { $0.contains("map $content_length $bazar_declared_too_large") })
        let entry = lines[start + 1].trimmingCharacters(in: .whitespaces)
        XCTAssertTrue(entry.hasPrefix("\"~") && entry.hasSuffix("\" 1;"), entry)
        let pattern = try NSRegularExpression(pattern: String(entry.dropFirst(2).dropLast(4)))
        func tooLarge(_ text: String) -> Bool {
            pattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
        }
        for length in 0...300_000 where tooLarge(String(length)) != (length > 65_536) {
            XCTFail("Content-Length \(length)")
        }
        for text in ["0065536", "0", "", "-1", "abc"] { XCTAssertFalse(tooLarge(text), text) }
        for text in ["0065537", "99999999999999999999", "1000000"] { XCTAssertTrue(tooLarge(text), text) }
    }
}
