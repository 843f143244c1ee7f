import Basics
import BazarCore
@testable import Catalog
@testable import Order
import Wire
import XCTest

/// The pure decisions of failover (docs/failover.md), as tables of cases: how a receiver judges
/// a message's epoch, when a witness grants the next epoch, when a backup runs for it, and how
/// long a new primary waits out the old one's front leases.
final class FailoverDecisionTests: XCTestCase {
    private let one = Term(epoch: 1, primary: "catalog-1")
    private let two = Term(epoch: 2, primary: "catalog-2")

    func testTheEpochFence() {
        let cases: [(known: Term, incoming: Term, expected: TermFence, why: String)] = [
            (one, one, .accept, "the same term"),
            (one, two, .adopt(two), "a newer epoch is adopted"),
            (two, one, .refuse(two), "an older epoch is refused, naming the newer"),
            (one, Term(epoch: 1, primary: "catalog-2"), .refuse(one), "another primary claiming the same epoch"),
            (Term(epoch: 0, primary: ""), one, .adopt(one), "a witness that knew none adopts the first"),
            (Term(epoch: 0, primary: ""), Term(epoch: 0, primary: ""), .accept, "nothing known on either side"),
        ]
        for (known, incoming, expected, why) in cases {
            XCTAssertEqual(TermFence(known: known, incoming: incoming), expected, why)
        }
    }

    func testWhenAWitnessGrantsTheNextEpoch() {
        let byTwo = EpochRequest(candidate: "catalog-2", leaving: one)
        let byOne = EpochRequest(candidate: "catalog-1", leaving: one)
        let three = Term(epoch: 3, primary: "catalog-1")
        let cases: [(held: Term, inSync: Bool, request: EpochRequest, expected: WitnessGrant.Verdict, why: String)] = [
            (one, true, byTwo, .grant(two), "the backup of epoch 1, counted in sync"),
            (one, false, byTwo, .refuse("the newest record does not count catalog-2 in sync: it may lack acknowledged writes"),
             "a backup the primary demoted may lack acknowledged writes"),
            (one, true, byOne, .refuse("catalog-1 is already epoch 1's primary"), "the primary itself never gets the next epoch"),
            (two, false, byTwo, .repeatGrant(two), "a lost answer: the same candidate is told again"),
            (two, true, byOne, .stale(two), "epoch 2 went to catalog-2: never to two replicas"),
            (three, true, byTwo, .stale(three), "a request from two epochs ago"),
            (Term(epoch: 0, primary: ""), true, byTwo,
             .refuse("this witness holds epoch 0, not 1: it has no record of that epoch"), "a witness that never heard of epoch 1"),
            (Term(epoch: 1, primary: "catalog-2"), true, EpochRequest(candidate: "catalog-2", leaving: one),
             .refuse("epoch 1's primary is catalog-2, not catalog-1"), "the candidate names another primary for the epoch"),
            (two, true, EpochRequest(candidate: "catalog-1", leaving: two), .grant(three), "the second failover, the other way"),
        ]
        for (held, inSync, request, expected, why) in cases {
            XCTAssertEqual(WitnessGrant(held: held, recordInSync: inSync, request: request).verdict, expected, why)
        }
    }

    func testWhenABackupRunsForTheNextEpoch() {
        let second: Int64 = 1_000_000_000
        let cases: [(current: Bool, asked: Bool, answered: Bool, silent: Int64, witnesses: Bool, expected: Candidacy.Verdict, why: String)] = [
            (true, false, true, 0, true, .watch, "the primary answers (or a push lease is held)"),
            (true, false, true, 10 * second, true, .watch, "an answer resets the silence"),
            (true, false, false, second / 2, true, .standIn, "silent for less than runAfter: stand in for reads only"),
            (true, false, false, second, true, .run, "silent for runAfter: run"),
            (true, false, false, 10 * second, false, .standIn, "without witnesses no epoch can be granted"),
            (false, false, false, 10 * second, true, .watch, "a backup that is not current cannot show it holds every write"),
            (true, true, true, 0, true, .run, "asked to take over by the primary (switchover): at once"),
            (false, true, true, 0, true, .watch, "asked to take over but not current"),
            (true, true, true, 0, false, .watch, "asked to take over without witnesses"),
        ]
        for (current, asked, answered, silent, witnesses, expected, why) in cases {
            let candidacy = Candidacy(current: current, askedToTakeOver: asked, primaryAnswered: answered, silentFor: silent,
                                      runAfter: second, hasWitnesses: witnesses)
            XCTAssertEqual(candidacy.verdict, expected, why)
        }
    }

    func testANewPrimaryWaitsOutTheOldOnesFrontLeases() {
        let whole = (Replicator.lease + FrontLeases.duration + .milliseconds(250)).nanoseconds
        let cases: [(stopped: Int64, now: Int64, expected: Int64)] = [
            (0, 0, whole), (0, 1_000_000_000, whole - 1_000_000_000), (0, whole, 0), (0, whole * 2, 0),
        ]
        for (stopped, now, expected) in cases {
            XCTAssertEqual(Candidacy.leaseWait(stoppedAt: stopped, now: now).nanoseconds, expected)
        }
    }
}
