import Foundation
import XCTest

/// API.md: "A full disk never stops a process: writes answer `503` (nothing applied) or `507`,
/// reads go on, and writes resume by themselves when space returns." A whole stack on an 8 MB
/// tmpfs (`BAZAR_VAR`), filled by a filler file and `POST /books`.
final class FullDiskTests: XCTestCase {
    private static let names = ["front", "catalog-1", "catalog-2", "order-1", "order-2", "nginx", "nginx-internal", "supervisor"]
    private let admin = ["Authorization": "Bearer \(Stack.adminToken)"]

    /// A new tmpfs of `megabytes` (8 MB), mounted (0755: bazarctl refuses a state directory others
    /// may write to, as a tmpfs's root is by default); `body` runs with it, then it is unmounted
    /// and removed.
    private func withSmallDisk(megabytes: Int = 8, _ body: (URL) async throws -> Void) async throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("bazar-full-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        XCTAssertEqual(try command("/bin/mount", "-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0755", "tmpfs", directory.path), 0,
                       "mount a tmpfs")
        defer {
            _ = try? command("/bin/umount", directory.path)
            try? FileManager.default.removeItem(at: directory)
        }
        try await body(directory)
    }

    func testFullDiskStopsNoProcessAndWritesResumeWhenSpaceReturns() async throws {
        try await withSmallDisk { directory in
            let stack = try Stack([:], directory: directory)
            defer { _ = try? stack.ctl("down") }
            try await fillAndRecover(stack, directory)
        }
    }

    /// nginx passes answers larger than its buffers on, and reads request bodies, without
    /// temporary files: it spilled what a reader slow to take an answer left over under its
    /// temp path, on the full disk, and cut the answer off ("pwritev() failed (28: No space
    /// left on device)"). On a full disk, a 1,000-book search page (800 KB) is answered whole:
    /// to the public, from a replica and from the cache, and by the internal listener to a
    /// reader taking 200 KB a second, as a stopped or busy front would. (A loopback TCP client
    /// cannot be that slow: the kernel takes the whole answer into nginx's socket buffer.) A
    /// 60 KB admin body reaches the front whole (its last book's error is named).
    func testLargeAnswersAndBodiesPassOnAFullDisk() async throws {
        try await withSmallDisk(megabytes: 32) { directory in
            let stack = try Stack([:], directory: directory)
            defer { _ = try? stack.ctl("down") }
            _ = try await stack.waitUntilLevel()
            let topic = "large-\(UUID().uuidString.prefix(8).lowercased())"
            let wide = #"{"title": "\#(String(repeating: "\u{1F600}", count: 200))", "topic": "\#(topic)", "price": 1.5, "stock": 1}"#
            for _ in 0..<17 {
                let body = "[" + Array(repeating: wide, count: 60).joined(separator: ",") + "]"
                let added = try await stack.client.send("POST", "/books", headers: admin, body: Data(body.utf8))
                XCTAssertEqual(added.status, 201, "\(added.json)")
            }
            let path = "/search/\(topic)?limit=1000"
            let whole = try await stack.client.get(path, headers: ["Cache-Control": "no-cache"])
            XCTAssertEqual(whole.status, 200)
            XCTAssertEqual(whole.json["items"].array.count, 1000)
            XCTAssertGreaterThan(whole.body.count, 800_000, "more than nginx's buffers and a unix socket's hold")

            // dd writes until the disk refuses (ENOSPC: it exits 1), to the last block.
            let filler = directory.appendingPathComponent("filler")
            _ = try command("/bin/sh", "-c", "dd if=/dev/zero of='\(filler.path)' bs=64k 2>/dev/null")
            defer { try? FileManager.default.removeItem(at: filler) }
            XCTAssertLessThan(try freeBytes(directory), 64 * 1024, "the disk is full")
            for headers in [["Cache-Control": "no-cache"], [:]] {
                let read = try await stack.client.get(path, headers: headers)
                XCTAssertEqual(read.status, 200, "\(headers) on a full disk")
                XCTAssertEqual(read.json["items"], whole.json["items"], "\(headers) on a full disk: \(read.body.count) bytes")
            }
            let (status, slow) = try stack.run("/usr/bin/curl", [
                "-s", "--max-time", "60", "--limit-rate", "200k", "-H", "X-Bazar-Secret: \(try stack.internalSecret())",
                "--unix-socket", stack.variables.appendingPathComponent("run/internal.sock").path, "http://bazar/catalog-1\(path)"])
            let page = (try? JSONSerialization.jsonObject(with: Data(slow.utf8))).map(JSONValue.init) ?? .null
            XCTAssertEqual(status, 0, "curl: the answer was cut off after \(slow.utf8.count) bytes")
            XCTAssertEqual(page["items"], whole.json["items"], "read slowly on a full disk: \(slow.utf8.count) of \(whole.body.count) bytes")

            let book = #"{"title": "\#(String(repeating: "l", count: 190))", "topic": "\#(topic)", "price": 1.5, "stock": 1}"#
            let long = #"{"title": "\#(String(repeating: "l", count: 201))", "topic": "\#(topic)", "price": 1.5, "stock": 1}"#
            let body = "[" + (Array(repeating: book, count: 239) + [long]).joined(separator: ",") + "]"
            XCTAssertGreaterThan(body.utf8.count, 60_000)
            let refused = try await stack.client.send("POST", "/books", headers: admin, body: Data(body.utf8))
            XCTAssertEqual(refused.status, 400, "\(refused.json)")
            XCTAssertEqual(refused.json["error"]["message"].string, "Book 239: title must be 1 to 200 characters long (it has 201).")
        }
    }

    /// A replica whose store is gone (a lost disk) and cannot be made again on the full disk
    /// neither exits nor is started again and again: it answers 503 until there is room, then
    /// makes its store and serves, as the same process.
    func testReplicaWhoseStoreCannotBeMadeWaitsForSpace() async throws {
        try await withSmallDisk { directory in
            let stack = try Stack([:], directory: directory)
            defer { _ = try? stack.ctl("down") }
            _ = try await stack.waitUntilLevel()
            let old = try XCTUnwrap(stack.pid("catalog-2"))
            XCTAssertEqual(kill(old, SIGKILL), 0)
            let data = directory.appendingPathComponent("data")
            for file in try FileManager.default.contentsOfDirectory(atPath: data.path) where file.hasPrefix("catalog-2.db") && !file.hasSuffix(".lock") {
                try FileManager.default.removeItem(at: data.appendingPathComponent(file))
            }
            let filler = directory.appendingPathComponent("filler")
            XCTAssertTrue(FileManager.default.createFile(atPath: filler.path, contents: Data(count: try freeBytes(directory))))
            let waiting = try await stack.waitForNewPid("catalog-2", old: old, timeout: 30)
            let pid = try XCTUnwrap(waiting, "catalog-2 was not started again")
            var health = try await stack.client.get("/health")
            for _ in 0..<20 where Processes.isAlive(pid) {   // a few seconds of retries
                health = try await stack.client.get("/health")
                try await Task.sleep(nanoseconds: 200_000_000)
            }
            XCTAssertTrue(Processes.isAlive(pid), "catalog-2 exited on the full disk")
            XCTAssertEqual(stack.pid("catalog-2"), pid, "catalog-2 was started again and again")
            let down = health.json["replicas"].array.first { $0["name"].string == "catalog-2" }
            XCTAssertEqual(down?["status"].string, "down", "catalog-2 serves without a store: \(health.json)")
            try FileManager.default.removeItem(at: filler)
            _ = try await stack.waitUntilLevel()
            XCTAssertEqual(stack.pid("catalog-2"), pid, "catalog-2 was started again")
        }
    }

    private func fillAndRecover(_ stack: Stack, _ directory: URL) async throws {
        _ = try await stack.waitUntilLevel()
        var pids = Dictionary(uniqueKeysWithValues: Self.names.map { ($0, stack.pid($0) ?? -1) })

        // Fill the disk: a filler file, then books until a write is refused.
        let filler = directory.appendingPathComponent("filler")
        let free = try freeBytes(directory)
        XCTAssertTrue(FileManager.default.createFile(atPath: filler.path, contents: Data(count: max(0, free - 256 * 1024))))
        let title = String(repeating: "t", count: 190)
        var refused: HTTPAnswer?
        for number in 0..<3000 where refused == nil {
            let body = #"{"title": "\#(title) \#(number)", "topic": "filler \#(number) \#(title)", "price": 1.5, "stock": 3}"#
            let added = try await stack.client.send("POST", "/books", headers: admin, body: Data(body.utf8))
            if added.status != 201 { refused = added }
        }
        let refusal = try XCTUnwrap(refused, "3000 books fitted on 8 MB")
        XCTAssertTrue([503, 507].contains(refusal.status), "a write on a full disk: \(refusal.status) \(refusal.json)")

        // A write under the client's own key is settled before it is answered 503 (an earlier try
        // under the key may have applied it): the settle's fence must still be recorded, and held
        // by the backup, on the full disk.
        let key = "full-\(UUID().uuidString.prefix(8))"
        let keyedBody = Data(#"{"title": "Under a key on a full disk", "topic": "\#(key)", "price": 1.5, "stock": 1}"#.utf8)
        let keyed = try await stack.client.send("POST", "/books", headers: admin.merging(["Idempotency-Key": key]) { $1 }, body: keyedBody)
        XCTAssertTrue([503, 507].contains(keyed.status), "a keyed write on a full disk: \(keyed.status) \(keyed.json)")

        // A log line for every refused /metrics (rate-limited: several seconds' worth).
        let logging = Date().addingTimeInterval(3)
        var metrics = 401
        while Date() < logging && metrics == 401 { metrics = try await stack.client.get("/metrics").status }
        XCTAssertEqual(metrics, 401, "an unauthenticated /metrics on a full disk")

        // Writes either apply or answer 503/507 with nothing applied; reads go on.
        let before = try await stack.client.get("/info/3", headers: ["Cache-Control": "no-cache"])
        XCTAssertEqual(before.status, 200)
        let update = try await stack.client.send("PUT", "/update/3", headers: admin, body: Data(#"{"price": 77.5}"#.utf8))
        let purchase = try await stack.client.send("POST", "/purchase/3")
        let after = try await stack.client.get("/info/3", headers: ["Cache-Control": "no-cache"])
        XCTAssertEqual(after.status, 200, "a read on a full disk")
        if update.status != 200 {
            XCTAssertTrue([503, 507].contains(update.status), "an update on a full disk: \(update.status) \(update.json)")
            XCTAssertEqual(after.json["price"].double, before.json["price"].double, "a refused update changed the price")
        }
        if purchase.status != 200 {
            XCTAssertTrue([503, 507].contains(purchase.status), "a purchase on a full disk: \(purchase.status) \(purchase.json)")
            XCTAssertEqual(after.json["stock"].int, before.json["stock"].int, "a refused purchase changed the stock")
        }
        for path in ["/info/1", "/search/distributed%20systems", "/orders"] {
            let read = try await stack.client.get(path, headers: ["Cache-Control": "no-cache"])
            XCTAssertEqual(read.status, 200, "\(path) on a full disk: \(read.json)")
        }

        // The supervisor starts killed processes again on the full disk.
        for name in ["catalog-2", "front"] {
            XCTAssertEqual(kill(pids[name]!, SIGKILL), 0, name)
            let new = try await stack.waitForNewPid(name, old: pids[name]!, timeout: 30)
            XCTAssertNotNil(new, "\(name) was not started again on a full disk (see log/supervisor.log)")
            pids[name] = new ?? -1
        }
        try await Task.sleep(nanoseconds: 2_000_000_000)   // a second start would come within the supervisor's back-off
        for (name, program) in [("catalog-2", "bazar-catalog"), ("front", "bazar-front")] {
            XCTAssertEqual(Processes.matching(program, "--name \(name) ", directory.path), [pids[name]!],
                           "one \(name) on the full disk, the one its pid file names")
        }
        for name in Self.names { XCTAssertTrue(Processes.isAlive(pids[name]!), "\(name) died on a full disk") }

        // Space returns: writes succeed again, with no process restarted.
        try FileManager.default.removeItem(at: filler)
        var added: HTTPAnswer?
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let body = #"{"title": "After the disk was full", "topic": "recovery", "price": 2.5, "stock": 1}"#
            let answer = try await stack.client.send("POST", "/books", headers: admin, body: Data(body.utf8))
            if answer.status == 201 { added = answer; break }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        XCTAssertNotNil(added, "no book could be added within 30 s of space returning")
        let retried = try await stack.client.send("POST", "/books", headers: admin.merging(["Idempotency-Key": key]) { $1 }, body: keyedBody)
        XCTAssertEqual(retried.status, 201, "the keyed write refused on the full disk, retried: \(retried.json)")
        XCTAssertNil(retried.header("Idempotent-Replayed"), "the keyed write refused on the full disk had been applied")
        let found = try await stack.client.get("/search/\(key)", headers: ["Cache-Control": "no-cache"])
        XCTAssertEqual(found.json["items"].array.count, 1, "the book added under the key: \(found.json)")
        _ = try await stack.waitUntilLevel()
        let updated = try await stack.client.send("PUT", "/update/3", headers: admin, body: Data(#"{"price": 78.5}"#.utf8))
        XCTAssertEqual(updated.status, 200, "\(updated.json)")
        let bought = try await stack.client.send("POST", "/purchase/3")
        XCTAssertEqual(bought.status, 200, "\(bought.json)")
        for name in Self.names { XCTAssertEqual(stack.pid(name), pids[name], "\(name) was restarted") }
    }

    private func freeBytes(_ directory: URL) throws -> Int {
        let attributes = try FileManager.default.attributesOfFileSystem(forPath: directory.path)
        return (attributes[.systemFreeSize] as? NSNumber)?.intValue ?? 0
    }

    private func command(_ program: String, _ arguments: String...) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
