@testable import Basics
import Foundation
import HTTPMessages
import XCTest

/// The exposition's escapes and the request metrics' bounded route label.
final class ExpositionTests: XCTestCase {
    func testHelpAndLabelValuesAreEscaped() {
        var exposition = Exposition()
        exposition.family("bazar_x", .gauge, "a \\ b\nc \"d\"")
        exposition.sample("bazar_x", [("replica", "a\"b\\c\nd")], 1)
        XCTAssertEqual(exposition.text, """
            # HELP bazar_x a \\\\ b\\nc "d"
            # TYPE bazar_x gauge
            bazar_x{replica="a\\"b\\\\c\\nd"} 1

            """)
    }

    func testRoutesAreNamedNeverRawPaths() {
        let metrics = RequestMetrics(routes: ["info", "take"])
        XCTAssertEqual(metrics.route(of: Request(method: "GET", path: "/info/12345")), 0)
        XCTAssertEqual(metrics.route(of: Request(method: "POST", path: "/catalog-1/take/3", isInternal: true)), 1)
        XCTAssertEqual(metrics.route(of: Request(method: "GET", path: "/catalog-1/info/3", isInternal: true)), 0)
        for (path, route) in ["/": 2, "": 2, "/nope/1": 2, "/information": 2, "//info": 0, "/take/1": 1] {
            XCTAssertEqual(metrics.route(of: Request(method: "GET", path: path)), route, path)
        }
        XCTAssertEqual(metrics.route(of: Request(method: "GET", path: "/info", isInternal: true)), 2)
    }

    func testHistogramIsCumulative() {
        let metrics = RequestMetrics(routes: ["info"])
        metrics.record(route: 0, status: 200, nanoseconds: 700_000)
        metrics.record(route: 0, status: 418, nanoseconds: 20_000_000_000)
        var exposition = Exposition()
        metrics.write(to: &exposition)
        XCTAssertTrue(exposition.text.contains(#"bazar_requests_total{route="info",status="200"} 1"#))
        XCTAssertTrue(exposition.text.contains(#"bazar_requests_total{route="info",status="other"} 1"#))
        XCTAssertTrue(exposition.text.contains(#"bazar_request_duration_seconds_bucket{route="info",le="0.0005"} 0"#))
        XCTAssertTrue(exposition.text.contains(#"bazar_request_duration_seconds_bucket{route="info",le="0.001"} 1"#))
        XCTAssertTrue(exposition.text.contains(#"bazar_request_duration_seconds_bucket{route="info",le="10"} 1"#))
        XCTAssertTrue(exposition.text.contains(#"bazar_request_duration_seconds_bucket{route="info",le="+Inf"} 2"#))
        XCTAssertTrue(exposition.text.contains(#"bazar_request_duration_seconds_count{route="info"} 2"#))
    }

    /// Every route and counted status is a series from the start, at 0.
    func testSeriesStartAtZero() {
        var exposition = Exposition()
        RequestMetrics(routes: ["info"]).write(to: &exposition)
        for status in RequestMetrics.statuses.map(String.init) + ["other"] {
            XCTAssertTrue(exposition.text.contains(#"bazar_requests_total{route="info",status="\#(status)"} 0"#), status)
            XCTAssertTrue(exposition.text.contains(#"bazar_requests_total{route="other",status="\#(status)"} 0"#), status)
        }
        XCTAssertTrue(exposition.text.contains(#"bazar_request_duration_seconds_bucket{route="other",le="+Inf"} 0"#))
        XCTAssertTrue(exposition.text.contains(#"bazar_request_duration_seconds_count{route="info"} 0"#))
    }

    /// The process's own series, read from /proc/self, and the build's.
    func testProcessMetricsDescribeThisProcess() throws {
        var exposition = Exposition()
        ProcessMetrics.write(to: &exposition)
        let values = Dictionary(exposition.text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            line.split(separator: " ").last.flatMap(Double.init).map { (String(line.prefix { $0 != " " && $0 != "{" }), $0) }
        }) { $1 }
        let resident = try XCTUnwrap(values["process_resident_memory_bytes"])
        XCTAssertGreaterThan(resident, 1_000_000)
        XCTAssertGreaterThan(try XCTUnwrap(values["process_open_fds"]), 2)
        XCTAssertGreaterThan(try XCTUnwrap(values["process_cpu_seconds_total"]), 0)
        let started = try XCTUnwrap(values["process_start_time_seconds"])
        XCTAssertLessThanOrEqual(started, Date().timeIntervalSince1970 + 1)
        XCTAssertGreaterThan(started, Date().timeIntervalSince1970 - 86_400)
        XCTAssertEqual(values["bazar_build_info"], 1)
        XCTAssertTrue(exposition.text.contains("# TYPE process_cpu_seconds_total counter"))
    }
}
