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
        let level = try await stack.waitUntilLevel()
        let applied = level["replicas"].array.first { $0["name"].string == "catalog-1" }?["applied"].int ?? 0
        XCTAssertGreaterThanOrEqual(applied, 4_000)

        XCTAssertEqual(try stack.ctl("stop", "catalog-2").0, 0)
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(at: stack.variables.appendingPathComponent("data/catalog-2.db\(suffix)"))
        }
        XCTAssertEqual(try stack.ctl("start", "catalog-2").0, 0)
        _ = try await stack.waitUntilLevel()
        for topic in [topics[0], topics[39]] {
            let primary = try stack.internalGet("/catalog-1/search/\(topic)?limit=1000")
            let backup = try stack.internalGet("/catalog-2/search/\(topic)?limit=1000")
            XCTAssertEqual(backup, primary)
            XCTAssertEqual(JSONValue(try JSONSerialization.jsonObject(with: Data(backup.utf8)))["items"].array.count, 100)
        }
        let last = try await stack.client.searchIDs(topics[39]).last ?? 0
        XCTAssertEqual(try stack.internalGet("/catalog-2/info/\(last)"), try stack.internalGet("/catalog-1/info/\(last)"))
    }

    /// Concurrent additions of many long topics: the primary commits them in one batch whose
    /// invalidation would pass 64 KiB, so it goes out in several messages, every one confirmed.
    /// (One message too large for nginx left the front unconfirmed: the primary waited out its
    /// lease, a second per batch, and the front came back with an emptied cache.) What shows it at
    /// any speed: the primary logs no wait for the front, and the front still answers from its cache.
    func testAdditionsOfManyTopicsAtOnceKeepTheFrontConfirmingInvalidations() async throws {
        let stack = try stack
        try await stack.warm("/info/1")
        let primaryLog = try FileHandle(forReadingFrom: stack.variables.appendingPathComponent("log/catalog-1.log"))
        defer { try? primaryLog.close() }
        try primaryLog.seekToEnd()
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for request in 0..<8 {
                group.addTask {
                    let prefix = "many-topics-\(request)-\(UUID().uuidString)-" + String(repeating: "t", count: 30)
                    let body = "[" + (0..<400).map { #"{"title":"b","topic":"\#(prefix)\#($0)","price":1,"stock":1}"# }
                        .joined(separator: ",") + "]"
                    return try await stack.client.addBooks(body).status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        XCTAssertEqual(statuses, Array(repeating: 201, count: 8))
        let logged = String(decoding: try primaryLog.readToEnd() ?? Data(), as: UTF8.self)
        XCTAssertFalse(logged.contains("waiting out its lease"), "a front was waited out:\n\(logged.suffix(2000))")
        let cached = try await stack.client.get("/info/1")
        XCTAssertEqual(cached.header("X-Cache"), "HIT", "the front kept its lease and its cache")
    }
}
