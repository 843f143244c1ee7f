import Foundation
import XCTest

/// The catalog backup stands in for a dead primary only when it can prove it holds every
/// acknowledged write (the order replicas witness that the primary never went on without it).
final class StandInTests: XCTestCase {
    /// API.md promise 2 across a recovery: a write acknowledged while the backup was down must
    /// never be hidden by that backup standing in later, whatever restarted meanwhile.
    func testABackupThatMissedAnAcknowledgedWriteNeverServesReads() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        XCTAssertEqual(try stack.ctl("stop", "catalog-2").0, 0)
        let update = try await stack.client.update(1, #"{"price": 41.5}"#)
        XCTAssertEqual(update.status, 200)
        let version = try XCTUnwrap(update.json["version"].int)
        kill(try XCTUnwrap(stack.pid("catalog-1")), SIGKILL)
        XCTAssertEqual(try stack.ctl("restart", "front").0, 0)
        XCTAssertEqual(try stack.ctl("start", "catalog-2").0, 0)
        for _ in 0..<30 {
            let read = try await stack.client.get("/info/1")
            if read.status == 200 {
                XCTAssertGreaterThanOrEqual(read.json["version"].int ?? -1, version, "a stale read after an acknowledged write")
            } else {
                XCTAssertEqual(read.status, 503)
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        XCTAssertEqual(try stack.ctl("start", "catalog-1").0, 0)
        _ = try await stack.waitUntilLevel()
        // nginx may count both replicas failed for a moment (max_fails): poll, for up to 60 s.
        var after = try await stack.client.get("/info/1")
        for _ in 0..<600 where after.status != 200 {
            try await Task.sleep(nanoseconds: 100_000_000)
            after = try await stack.client.get("/info/1")
        }
        XCTAssertEqual(after.json["version"].int, version, "\(after.status) \(String(decoding: after.body, as: UTF8.self))")
    }

    /// A backup in sync stands in for a dead primary under write load: it serves reads, 50 in a
    /// row, while the primary stays dead. (Waited for up to a generous 60 s, which bounds only a
    /// hang: how soon it stands in is `make bench`'s business. Reads may be refused meanwhile,
    /// between the backup's last lease from the primary and its standing in, and while nginx
    /// counts the replicas failed.)
    func testABackupInSyncServesReadsWhenThePrimaryDies() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        // The supervisor would start the primary again: keep it down, as `bazarctl stop` would.
        _ = FileManager.default.createFile(atPath: stack.variables.appendingPathComponent("run/catalog-1.stopped").path, contents: nil)
        let buyers = Task {
            await stack.client.load(workers: 3, seconds: 2) { _ in _ = try? await stack.client.send("POST", "/purchase/3") }
        }
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let primary = try XCTUnwrap(stack.pid("catalog-1"))
        kill(primary, SIGKILL)
        while kill(primary, 0) == 0 { usleep(5_000) }
        try await Task.sleep(nanoseconds: 1_000_000_000)   // past the backup's last lease
        let deadline = Date().addingTimeInterval(60)
        var refused = 0
        var served: [String] = []
        while served.count < 50, Date() < deadline {
            let read = try await stack.client.get("/info/\(Int.random(in: 1...7))", headers: ["Cache-Control": "no-cache"])
            if read.status == 200 {
                served.append(read.header("X-Upstream") ?? "none")
            } else {
                XCTAssertEqual(read.status, 503, "\(read.json)")
                refused += 1
                served = []
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        await buyers.value
        print("primary killed: \(refused) reads refused, then \(served.count) served in a row")
        XCTAssertEqual(served.count, 50, "the backup did not stand in within 60 s of the primary's death")
        XCTAssertEqual(Set(served), ["catalog-2"], "the backup served them")
        XCTAssertEqual(Processes.matching("bazar-catalog", "--name catalog-1 ", stack.variables.path), [], "the primary stayed down")
        XCTAssertEqual(try stack.ctl("start", "catalog-1").0, 0)
    }
}
