import InternalHTTP
import TierCalls
import XCTest

/// `PrimaryRouting`: where the catalog primary's calls go, learned from the answers.
final class PrimaryRoutingTests: XCTestCase {
    private func answer(_ status: Int, _ headers: [String: String]) -> Result<InternalResponse, InternalCallError> {
        .success(InternalResponse(status: status, headers: headers, body: []))
    }

    func testNothingLearnedGoesToAnyReplicaAndAReplicasAnswerNamesThePrimary() {
        var routing = PrimaryRouting()
        XCTAssertEqual(routing.prefix, "/catalog-primary")
        XCTAssertNil(routing.note(answer(409, ["X-Upstream": "catalog-2"]), sentTo: "/catalog-primary"))
        XCTAssertEqual(routing.prefix, "/catalog-2")
    }

    func testARefusalIsSentOnceMoreWhereItsHintPointsOrElseToAnyReplica() {
        var routing = PrimaryRouting(learned: "catalog-2")
        let hinted = answer(503, ["X-Bazar-Not-Sent": "true", "X-Bazar-Primary": "catalog-1"])
        XCTAssertEqual(routing.note(hinted, sentTo: "/catalog-2"), "/catalog-1")
        XCTAssertEqual(routing.learned, "catalog-1")
        XCTAssertNil(routing.note(hinted, sentTo: "/catalog-1"), "not again where it was refused")
        let unhinted = answer(503, ["X-Bazar-Not-Sent": "true"])
        XCTAssertEqual(routing.note(unhinted, sentTo: "/catalog-1"), "/catalog-primary")
        XCTAssertNil(routing.note(unhinted, sentTo: "/catalog-primary"))
    }

    func testNoAnswerFromTheReplicaLearnedForgetsItAndIsNotSentAgain() {
        for failure in [answer(504, [:]), .failure(.timeout), .failure(.noAnswer)] {
            var routing = PrimaryRouting(learned: "catalog-1")
            XCTAssertNil(routing.note(failure, sentTo: "/catalog-1"), "the outcome is the caller's to settle")
            XCTAssertNil(routing.learned)
        }
        var routing = PrimaryRouting(learned: "catalog-1")
        XCTAssertNil(routing.note(.failure(.unreachable), sentTo: "/catalog-1"), "nginx itself was not reached")
        XCTAssertEqual(routing.learned, "catalog-1")
    }

    func testOnlyTheReplicasNginxRoutesToAreLearned() {
        var routing = PrimaryRouting()
        XCTAssertNil(routing.note(answer(200, ["X-Upstream": "order-1"]), sentTo: "/catalog-primary"))
        XCTAssertEqual(routing.prefix, "/catalog-primary")
        XCTAssertNil(routing.note(answer(503, ["X-Bazar-Not-Sent": "true", "X-Bazar-Primary": "../x"]), sentTo: "/catalog-primary"))
        XCTAssertNil(PrimaryRouting(learned: "catalog-3").learned)
    }
}
