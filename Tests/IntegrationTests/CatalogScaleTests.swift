import Foundation
import XCTest

/// A catalog of thousands of books: replication pushes and invalidations stay under the 64 KiB
/// body limit (they come in pages), and a backup started from an empty database catches up.
final class CatalogScaleTests: StackTestCase {
    func testABackupStartedFromAnEmptyDatabaseCatchesUpWithThousandsOfBooks() async throws {
        let stack = try stack
        let topics = (0..<40).map { "scale-\($0)-\(UUID().uuidString.prefix(6).lowercased())" }
        let lines = (0..<4_000).map { #"{"title":"Scaled book \#($0) \#(String(repeating: "x", count: 40))","topic":"\#(topics[$0 % 40])","price":2,"stock":1}"# }
        let path = stack.variables.appendingPathComponent("scale.jsonl").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let (status, output) = try stack.ctl("import", path)
        XCTAssertEqual(status, 0, output)
        let level = try await stack.waitUntilLevel(timeout: 20)
        let applied = level["replicas"].array.first { $0["name"].string == "catalog-1" }?["applied"].int ?? 0
        XCTAssertGreaterThanOrEqual(applied, 4_000)

        XCTAssertEqual(try stack.ctl("stop", "catalog-2").0, 0)
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(at: stack.variables.appendingPathComponent("data/catalog-2.db\(suffix)"))
        }
        XCTAssertEqual(try stack.ctl("start", "catalog-2").0, 0)
        _ = try await stack.waitUntilLevel(timeout: 20)
        for topic in [topics[0], topics[39]] {
            let primary = try stack.internalGet("/catalog-1/search/\(topic)?limit=1000")
            let backup = try stack.internalGet("/catalog-2/search/\(topic)?limit=1000")
            XCTAssertEqual(backup, primary)
            XCTAssertEqual(JSONValue(try JSONSerialization.jsonObject(with: Data(backup.utf8)))["items"].array.count, 100)
        }
        let last = try await stack.client.searchIDs(topics[39]).last ?? 0
        XCTAssertEqual(try stack.internalGet("/catalog-2/info/\(last)"), try stack.internalGet("/catalog-1/info/\(last)"))
    }
}
