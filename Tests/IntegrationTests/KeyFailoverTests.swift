import Foundation
import XCTest

/// The keys of writes outlive a change of primary (docs/failover.md): the backup that takes over
/// holds the key of every addition and admin update whose books it holds, and every attempt a
/// settle fenced, so a retried addition replays, a settle of an applied update answers applied,
/// and a fenced attempt stays refused, at the new primary as at the old.
final class KeyFailoverTests: XCTestCase {
    /// Sends `call` until it is answered by a replica (not 503: the role is changing hands),
    /// for at most 60 s; the last answer.
    private func untilAnswered(_ call: () async throws -> (Int, String)) async throws -> (Int, String) {
        let deadline = Date().addingTimeInterval(60)
        var last = (0, "")
        while Date() < deadline {
            last = try await call()
            if last.0 != 503 && last.0 != 504 { return last }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        return last
    }

    /// Hands the primary role to catalog-2 and waits until it leads.
    private func switchOver(_ stack: Stack) async throws {
        let (status, output) = try stack.ctl("switchover")
        XCTAssertEqual(status, 0, output)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let health = try? await stack.client.get("/health"), health.json["primary"].string == "catalog-2" { return }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        XCTFail("catalog-2 never led")
    }

    private static func json(_ body: String) -> JSONValue {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))).map(JSONValue.init) ?? .null
    }

    /// An addition acknowledged by catalog-1, which is then stopped for good: the same request
    /// under the same Idempotency-Key, answered by catalog-2 once it took over, replays the book
    /// added and adds nothing.
    func testAnAdditionRetriedUnderItsKeyAfterAFailoverAddsNothing() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let topic = "kept-\(UUID().uuidString.prefix(8).lowercased())"
        let key = "add-\(UUID().uuidString)"
        let body = #"{"title":"Kept","topic":"\#(topic)","price":5,"stock":5}"#
        let first = try await stack.client.addBooks(body, headers: ["Idempotency-Key": key])
        XCTAssertEqual(first.status, 201)
        let (stopped, output) = try stack.ctl("stop", "catalog-1")
        XCTAssertEqual(stopped, 0, output)
        let (status, replayBody) = try await untilAnswered {
            let answer = try await stack.client.addBooks(body, headers: ["Idempotency-Key": key])
            return (answer.status, answer.header("Idempotent-Replayed") == "true" ? "replayed" : String(decoding: answer.body, as: UTF8.self))
        }
        XCTAssertEqual(status, 201)
        XCTAssertEqual(replayBody, "replayed", "the new primary replays the addition under its key")
        let listed = try await stack.client.searchIDs(topic)
        XCTAssertEqual(listed, [first.json["id"].int ?? 0], "the book is in the catalog once")
    }

    /// An admin update applied by catalog-1 under a key, then `bazarctl switchover`: a settle of
    /// that key at catalog-2 answers applied (not "not applied", which its caller would answer
    /// 503 "nothing applied" for an update that was).
    func testASettleOfAnUpdateAppliedBeforeASwitchoverAnswersApplied() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let key = "update-\(UUID().uuidString)"
        let (updated, updateBody) = try stack.internalPost("/catalog-primary/update/3", body: #"{"price": 41.5}"#,
                                                           headers: ["X-Bazar-Key": key, "X-Bazar-Attempt": key])
        XCTAssertEqual(updated, 200, updateBody)
        try await switchOver(stack)
        let (settled, settleBody) = try await untilAnswered {
            try stack.internalPost("/catalog-primary/settle/3", body: "", headers: ["X-Bazar-Key": key, "X-Bazar-Attempt": key])
        }
        XCTAssertEqual(settled, 200, settleBody)
        XCTAssertEqual(Self.json(settleBody)["applied"], .bool(true), "the update applied before the switchover: \(settleBody)")
    }

    /// An admin update applied by catalog-1 under a key, then `bazarctl switchover`: the same
    /// request reaching catalog-2 (as nginx passes on a request a dying primary got) is answered
    /// as a replay and applies nothing.
    func testAnUpdateAppliedBeforeASwitchoverIsNotAppliedAgain() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let key = ["X-Bazar-Key": "restock-\(UUID().uuidString)"]
        let (updated, updateBody) = try stack.internalPost("/catalog-primary/update/6", body: #"{"stock_delta": 5}"#, headers: key)
        XCTAssertEqual(updated, 200, updateBody)
        let stock = Self.json(updateBody)["stock"].int
        try await switchOver(stack)
        let (again, againBody) = try await untilAnswered {
            try stack.internalPost("/catalog-primary/update/6", body: #"{"stock_delta": 5}"#, headers: key)
        }
        XCTAssertEqual(again, 200, againBody)
        XCTAssertEqual(Self.json(againBody)["stock"].int, stock, "the update was applied again at the new primary: \(againBody)")
    }

    /// An attempt a settle fenced at catalog-1 (never applied), then `bazarctl switchover`: the
    /// attempt arriving late at catalog-2 is refused (409 `attempt_settled`), and buys nothing.
    func testAnAttemptFencedBeforeASwitchoverStaysFenced() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let lost = ["X-Bazar-Key": "lost-\(UUID().uuidString)", "X-Bazar-Attempt": "lost-\(UUID().uuidString)"]
        let (settled, settleBody) = try stack.internalPost("/catalog-primary/settle/5", body: "", headers: lost)
        XCTAssertEqual(settled, 200, settleBody)
        XCTAssertEqual(Self.json(settleBody)["applied"], .bool(false))
        try await switchOver(stack)
        let (late, lateBody) = try await untilAnswered {
            try stack.internalPost("/catalog-primary/take/5", body: "", headers: lost)
        }
        XCTAssertEqual(late, 409, "the fenced attempt is refused by the new primary: \(lateBody)")
        XCTAssertEqual(Self.json(lateBody)["error"]["code"].string, "attempt_settled")
    }
}
