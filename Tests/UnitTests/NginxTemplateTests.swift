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
