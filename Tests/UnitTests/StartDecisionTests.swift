@testable import Catalog
import TierCalls
import Wire
import XCTest

/// What a starting primary may do, from its store's `applied` and its peers' answers.
final class StartDecisionTests: XCTestCase {
    private typealias Witness = WitnessState

    private func decide(_ applied: Int64, witnesses: [Witness], of count: Int = 2, backup: Int64?) -> StartDecision.Verdict {
        StartDecision(applied: applied, witnessCount: count, witnesses: witnesses,
                      backup: backup.map { BackupState(applied: $0, current: true) }).verdict
    }

    private let inSync = Witness(version: 4, inSync: true, acknowledged: 0)
    private let demoted = Witness(version: 5, inSync: false, acknowledged: 40)

    func testAnIntactStoreLeadsCountingTheBackupInSync() {
        XCTAssertEqual(decide(30, witnesses: [inSync, inSync], backup: 30), .lead(backupInSync: true))
        XCTAssertEqual(decide(30, witnesses: [inSync], backup: 12), .lead(backupInSync: true), "a backup behind is caught up by pushes")
    }

    func testAFreshDeploymentLeads() {
        let none = Witness(version: 0, inSync: false, acknowledged: 0)
        XCTAssertEqual(decide(0, witnesses: [none, none], backup: 0), .lead(backupInSync: true))
    }

    func testAnEmptyOrOlderStorePullsFromTheBackup() {
        XCTAssertEqual(decide(0, witnesses: [inSync, inSync], backup: 30), .pull(through: 30))
        XCTAssertEqual(decide(12, witnesses: [inSync], backup: 30), .pull(through: 30))
    }

    func testWritesAcknowledgedWithoutTheBackupMakeAStoreBehindThemRefuse() {
        XCTAssertEqual(decide(0, witnesses: [demoted, demoted], backup: 30), .refuse(through: 40))
        XCTAssertEqual(decide(39, witnesses: [demoted, demoted], backup: nil), .refuse(through: 40))
    }

    func testARecordedDemotionStartsWithoutTheBackup() {
        XCTAssertEqual(decide(40, witnesses: [demoted, demoted], backup: nil), .lead(backupInSync: false))
        XCTAssertEqual(decide(40, witnesses: [demoted, demoted], backup: 12), .lead(backupInSync: false))
    }

    func testADemotionSeenOnOneWitnessOnlyIsNotTrusted() {
        // The silent witness may hold a later promotion: writes after it are on the backup only.
        guard case .wait = decide(40, witnesses: [demoted], backup: nil) else { return XCTFail("must wait for the backup") }
        XCTAssertEqual(decide(40, witnesses: [demoted], backup: 50), .pull(through: 50))
        XCTAssertEqual(decide(50, witnesses: [demoted], backup: 50), .lead(backupInSync: true))
    }

    func testWithoutAnyWitnessOrWithoutTheBackupInSyncItWaits() {
        guard case .wait = decide(30, witnesses: [], backup: 30) else { return XCTFail("no witness answered") }
        guard case .wait = decide(30, witnesses: [inSync, inSync], backup: nil) else { return XCTFail("the backup holds the rest") }
    }

    func testWithNoWitnessesConfiguredItLeadsAloneOrPulls() {
        XCTAssertEqual(decide(30, witnesses: [], of: 0, backup: nil), .lead(backupInSync: false))
        XCTAssertEqual(decide(10, witnesses: [], of: 0, backup: 30), .pull(through: 30))
    }

    /// The primary answers a write (or a settle) before its caller gives up and settles it.
    func testThePrimarysDeadlinesFitInsideItsCallersTimeouts() {
        XCTAssertLessThan(Primary.writeDeadline, Timeouts.primaryWrite)
        XCTAssertLessThan(Primary.settleDeadline, Timeouts.settle)
        XCTAssertGreaterThan(Primary.writeDeadline, Replicator.pushTimeout + Replicator.lease, "a demotion fits in it")
    }
}
