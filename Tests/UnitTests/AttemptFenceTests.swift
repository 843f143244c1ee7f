import BazarCore
import XCTest

/// Which arriving attempts the catalog primary refuses, given the attempts settled as not
/// applied: an attempt is fenced when it, or an attempt it was made under, was aborted.
final class AttemptFenceTests: XCTestCase {
    func testLineageNamesEveryAttemptATryWasMadeUnder() {
        XCTAssertEqual(WriteIdentity.lineage(of: "r"), ["r"])
        XCTAssertEqual(WriteIdentity.lineage(of: "r.front.1.order-1.2"),
                       ["r", "r.front", "r.front.1", "r.front.1.order-1", "r.front.1.order-1.2"])
        XCTAssertEqual(WriteIdentity.tryName(2, of: "r.front.1", by: "order-1"), "r.front.1.order-1.2")
    }

    func testTheFenceTable() {
        // (aborted, arriving attempt, refused, why)
        let table: [(Set<String>, String, Bool, String)] = [
            ([], "r.front.1", false, "nothing settled"),
            (["r.front.1"], "r.front.1", true, "the try settled itself"),
            (["r.front.1"], "r.front.1.order-1.1", true, "the front settled its try: the order replica's first take under it"),
            (["r.front.1"], "r.front.1.order-1.2", true, "… and its retry, held back (Accidents item 7)"),
            (["r.front.1.order-1.1"], "r.front.1.order-1.2", false, "the order replica settled its own first take: its retry is a sibling"),
            (["r.front.1.order-1.1"], "r.front.1", false, "settling a try below fences nothing above it"),
            (["r.front.1"], "r.front.2.order-1.1", false, "the front's own second try is a sibling of the first"),
            (["r.front.1"], "r.front.10.order-1.1", false, "a prefix counts only at a dot"),
            (["r"], "r.front.2.order-2.2", true, "settling the whole attempt fences every try under it"),
            (["s.front.1"], "r.front.1.order-1.1", false, "another request's attempt"),
        ]
        for (aborted, attempt, refused, why) in table {
            XCTAssertEqual(WriteIdentity.isFenced(attempt) { aborted.contains($0) }, refused, "\(attempt) with \(aborted.sorted()): \(why)")
        }
    }
}
