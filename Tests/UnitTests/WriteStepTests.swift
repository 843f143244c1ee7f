import InternalHTTP
import TierCalls
import XCTest

/// The write-outcome policy as one table: what a call's result says (`WriteAnswer`), and what
/// the caller does next (`WriteStep`) under the client's own key (earlier tries possible) and
/// under a key made for this request (or at an order replica, which leaves that to the front).
final class WriteStepTests: XCTestCase {
    private static let tier = ["X-Upstream": "catalog-1"]

    private static let table: [(String, Result<InternalResponse, InternalCallError>, clientKey: String, ownKey: String)] = [
        ("the tier applied it", .success(answer(200, tier)), "pass on", "pass on"),
        ("the tier refused it (sold out)", .success(answer(409, tier)), "pass on", "pass on"),
        ("the tier refused it for now", .success(answer(503, tier)), "settle, earlier try", "pass on"),
        ("the tier could not tell", .success(answer(504, tier)), "settle", "settle"),
        ("nginx could not send it", .success(answer(502, ["X-Bazar-Not-Sent": "true"])), "settle, earlier try", "refuse"),
        ("nginx failed after sending", .success(answer(502, [:])), "settle", "settle"),
        ("nginx timed out", .success(answer(504, [:])), "settle", "settle"),
        ("nginx's own 404", .success(answer(404, [:])), "pass on", "pass on"),
        ("nginx unreachable", .failure(.unreachable), "settle, earlier try", "refuse"),
        ("the call timed out", .failure(.timeout), "settle", "settle"),
        ("the connection closed unanswered", .failure(.noAnswer), "settle", "settle"),
        ("a malformed answer", .failure(.malformed), "settle", "settle"),
    ]

    private static func answer(_ status: Int, _ headers: [String: String]) -> InternalResponse {
        InternalResponse(status: status, headers: headers, body: [])
    }

    private func name(_ step: WriteStep) -> String {
        switch step {
        case .passOn: "pass on"
        case .refuse: "refuse"
        case .settle(let byEarlierTry): byEarlierTry ? "settle, earlier try" : "settle"
        }
    }

    func testEveryCallResultLeadsToOneStep() {
        for (what, result, clientKey, ownKey) in Self.table {
            XCTAssertEqual(name(WriteStep(WriteAnswer(result), earlierTriesPossible: true)), clientKey, "\(what), the client's key")
            XCTAssertEqual(name(WriteStep(WriteAnswer(result), earlierTriesPossible: false)), ownKey, "\(what), a key of its own")
        }
    }

    func testAnAnswerPassedOnIsTheTiersOwn() {
        guard case .passOn(let passed) = WriteStep(WriteAnswer(.success(Self.answer(409, Self.tier))), earlierTriesPossible: true) else {
            return XCTFail("a refusal was not passed on")
        }
        XCTAssertEqual(passed.status, 409)
        XCTAssertEqual(passed.header("X-Upstream"), "catalog-1")
    }
}
