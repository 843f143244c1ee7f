import BazarCore
import Foundation
import TierCalls
import XCTest

/// Timeouts grow from the inside out: each nginx location waits longer than the tier it calls
/// can take, so the caller (never nginx) gives up first and settles what it lost. (The queue of
/// misses is the exception: a read, given up on while it waits its turn.)
final class TimeoutsTests: XCTestCase {
    /// The template's `fastcgi_read_timeout` values: the public server's, the internal server's
    /// default, and those of the internal locations by prefix.
    private func readTimeouts() throws -> (public: Double, internal: Double, locations: [String: Double]) {
        let template = try String(contentsOf: TestSupport.repoRoot.appendingPathComponent("nginx/nginx.conf.template"), encoding: .utf8)
        var servers: [Double] = []
        var locations: [String: Double] = [:]
        var location: String?
        for line in template.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("location ^~ ") { location = line.split(separator: " ")[2].description }
            if line.hasPrefix("location @") { location = line.split(separator: " ")[1].description }
            if line == "}" { location = nil }
            guard line.hasPrefix("fastcgi_read_timeout ") else { continue }
            let value = line.dropFirst("fastcgi_read_timeout ".count).dropLast()
            let seconds = value.hasSuffix("ms") ? Double(value.dropLast(2))! / 1000 : Double(value.dropLast())!
            if let location { locations[location] = seconds } else { servers.append(seconds) }
        }
        XCTAssertEqual(servers.count, 2, "the public and the internal server")
        return (servers[0], servers[1], locations)
    }

    func testEachLocationOutwaitsWhatItCalls() throws {
        let (outer, inner, locations) = try readTimeouts()
        // The catalog primary's writes (take, update, books) go through the internal default.
        XCTAssertGreaterThan(inner, Timeouts.primaryWrite.seconds)
        XCTAssertGreaterThan(try XCTUnwrap(locations["/orders/"]), Timeouts.purchase.seconds)
        // A catalog read tries two replicas within the front's read timeout.
        XCTAssertLessThan(2 * (try XCTUnwrap(locations["/catalog/"])), Timeouts.read.seconds)
        // The public server outwaits the front's longest write: a fast failed try, the purchase
        // tried once more (FastRetry), its settle and the recording of its order at both order replicas.
        XCTAssertGreaterThan(outer, FastRetry.window.seconds + Timeouts.purchase.seconds + Timeouts.settle.seconds
                             + 2 * Timeouts.recordOrder.seconds)
        // A take's wait for a batch counts within its primary write, and what is left outlasts
        // the primary's own deadline for the write (Primary.writeDeadline: 500 ms less).
        XCTAssertLessThan(Timeouts.takeBatchWait, .milliseconds(500))
        // The queue of misses is a queue: nginx gives up on a miss waiting there (503) within
        // the overload promise's 2 s, with a second to spare for the main socket's queue before it.
        XCTAssertLessThanOrEqual(try XCTUnwrap(locations["@front_miss"]), 1)
        // An order replica's take, tried once more after a fast failure, fits in the front's purchase timeout.
        XCTAssertLessThan(FastRetry.window.seconds + Timeouts.primaryWrite.seconds + Timeouts.settle.seconds + Timeouts.peerPush.seconds,
                          Timeouts.purchase.seconds)
    }
}
