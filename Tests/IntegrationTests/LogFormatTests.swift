import Foundation
import XCTest

/// Every process bazarctl starts logs one logfmt line per event:
/// `ts=… level=error|warn|info msg=… key=value…`.
final class LogFormatTests: StackTestCase {
    /// A logfmt line as the tiers, bazarctl and its supervisor write it.
    static let line = try! NSRegularExpression(pattern: #"""
        ^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(error|warn|info) msg=("([^"\\]|\\.)*"|[^ "=]+)( [a-z_]+=("([^"\\]|\\.)*"|[^ "=]+))*$
        """#)

    /// After a start, a purchase and a refused update, every line of every tier's log and of
    /// the supervisor's is logfmt, and the refusal is at warn.
    func testEveryTierLogsLogfmtLines() async throws {
        let stack = try stack
        _ = try await client.send("POST", "/purchase/1")
        let refused = try await client.send("PUT", "/update/1", headers: ["Authorization": "Bearer nope"], body: Data("{}".utf8))
        XCTAssertEqual(refused.status, 401)
        try await Task.sleep(nanoseconds: 300_000_000)
        for name in ["front", "catalog-1", "catalog-2", "order-1", "order-2", "supervisor"] {
            let text = (try? String(contentsOf: stack.variables.appendingPathComponent("log/\(name).log"), encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n").map(String.init)
            XCTAssertGreaterThan(lines.count, 0, "\(name).log is empty")
            for line in lines {
                let range = NSRange(line.startIndex..., in: line)
                XCTAssertNotNil(Self.line.firstMatch(in: line, range: range), "\(name).log: not logfmt: \(line)")
            }
        }
        let front = (try? String(contentsOf: stack.variables.appendingPathComponent("log/front.log"), encoding: .utf8)) ?? ""
        XCTAssertTrue(front.contains(#"level=warn msg="refused a request without the admin token" request="PUT /update/1""#), front)
    }
}
