import Foundation
@testable import Front
import XCTest

/// Which fronts the front answering `/metrics` asks for their own series.
final class FrontPeersTests: XCTestCase {
    func testWithoutFrontsTheSupervisorsFrontsAreTheFronts() throws {
        let directory = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("supervisor-restarts")
        try "nginx 0\nfront 2\ncatalog-1 0\nfront-3 0\nfront-2 1\nfront-x 0\nfrontier 0\norder-2 0".write(to: file, atomically: true, encoding: .utf8)
        let peers = FrontPeers(own: "front-2", listed: [], supervisor: SupervisorRestarts(file: file.path))
        XCTAssertEqual(peers.names(), ["front-2", "front", "front-3"])
        let alone = FrontPeers(own: "front", listed: [], supervisor: SupervisorRestarts(file: directory.appendingPathComponent("none").path))
        XCTAssertEqual(alone.names(), ["front"])
    }

    func testListedNamesWinAndADNSNameStandsForEachOfItsAddresses() throws {
        let supervisor = SupervisorRestarts(file: "")
        XCTAssertEqual(FrontPeers(own: "front", listed: ["front", "front-2"], supervisor: supervisor).names(), ["front", "front-2"])
        let across = FrontPeers(own: "front@10.0.0.5:9002", listed: ["front@localhost:9002", "front@10.0.0.5:9002"], supervisor: supervisor)
        XCTAssertEqual(across.names(), ["front@10.0.0.5:9002", "front@127.0.0.1:9002"])
        XCTAssertEqual(FrontPeers.expand("front@no-such-host.invalid:9002"), [])
        XCTAssertEqual(FrontPeers.expand("front@10.1.2.3:9002"), ["front@10.1.2.3:9002"])
    }

    func testFrontsAreCheckedAsNamesAre() {
        XCTAssertNoThrow(try FrontPeers.parse(["front", "front-2", "front@10.0.0.1:9002"]))
        XCTAssertThrowsError(try FrontPeers.parse(["front/../catalog-1"]))
        XCTAssertThrowsError(try FrontPeers.parse([String(repeating: "f", count: 101)]))
    }
}
