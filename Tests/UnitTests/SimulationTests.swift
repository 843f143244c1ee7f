@testable import Simulation
import XCTest

/// The simulator of the replication protocol (docs/simulation.md): its seeds keep API.md's
/// promises, a seed replays exactly, the checker sees a broken promise, and the old decisions
/// the accidents issue found are found again when put back.
final class SimulationTests: XCTestCase {
    /// The faults `make test` runs: every kind, disks lost on catalog-2 only (catalog-1's lost
    /// disk breaks promises 1 and 6 in ways docs/simulation.md lists).
    private var model: FaultModel {
        var model = FaultModel.standard
        model.disksLost = [.catalog2]
        return model
    }

    func testSeedsKeepEveryPromise() {
        let simulation = Simulation(model: model)
        for seed in UInt64(1)...300 {
            let outcome = simulation.run(seed: seed)
            XCTAssertEqual(outcome.failures(strict: false).map(\.description), [], "seed \(seed)")
            XCTAssertGreaterThan(outcome.operations, 20, "seed \(seed)")
        }
    }

    func testASeedReplaysItsScheduleExactly() throws {
        let simulation = Simulation(model: model)
        let first = simulation.run(seed: 42, tracing: true)
        let again = simulation.run(seed: 42, tracing: true)
        let untraced = simulation.run(seed: 42)
        let trace = try XCTUnwrap(first.trace)
        XCTAssertGreaterThan(trace.count, 1_000)
        XCTAssertEqual(trace, again.trace)
        XCTAssertEqual(first.scheduleHash, untraced.scheduleHash, "tracing changes nothing")
        XCTAssertEqual(first.steps, untraced.steps)
        XCTAssertNotEqual(simulation.run(seed: 43, tracing: true).trace, trace, "another seed, another schedule")
    }

    func testTheCheckerCatchesABrokenPromise() {
        let history = History()
        let update = history.invoke(client: 0, .update(book: 1, price: 1_001, key: "r1"), request: "r1", at: 1_000)
        history.complete(update, WriteReply(status: 200, book: BookState(id: 1, stock: 4, price: 1_001, version: 5)), at: 2_000)
        let read = history.invoke(client: 1, .read(book: 1), request: "r2", at: 3_000)
        history.complete(read, WriteReply(status: 200, book: BookState(id: 1, stock: 4, price: 100, version: 3)), at: 4_000)
        let purchase = history.invoke(client: 2, .purchase(book: 1, key: "k3", clientKey: true), request: "r3", at: 5_000)
        history.committed(key: "k3", .init(at: 5_500, attempt: "r3.front.1.order-1.1", epoch: 1, book: 1, version: 6))
        history.complete(purchase, WriteReply(status: 503), at: 6_000)
        // Promise 7: epoch 2's order below epoch 1's, two primaries acknowledging in epoch 2.
        history.acknowledged(epoch: 1, by: .catalog1, order: 5, at: 6_500)
        history.acknowledged(epoch: 2, by: .catalog2, order: 3, at: 8_000)
        history.acknowledged(epoch: 2, by: .catalog1, order: nil, at: 8_500)
        let books = [BookState(id: 1, stock: 4, price: 1_001, version: 6)]
        let final = FinalState(leaders: [.catalog2, .catalog1], primaryBooks: books, primaryApplied: 6,
                               takes: [OrderRecord(number: 1, book: 1, key: "k3")], acknowledgedTakes: 1, backup: (books, 6),
                               orderReplicas: [[OrderRecord(number: 1, book: 1, key: "k3")], []],
                               initialStock: [1: 4], diskLosses: [], lostForGood: (.catalog1, 7_000, true), probes: [3],
                               grants: [2: 7_500], backupOutOfSync: false, refusedAfterAFailover: false, grantUnheard: false,
                               failoverBound: FaultModel.standard.failoverBound)
        let promises = Set(Checker(history: history, final: final).violations().map(\.promise))
        XCTAssertEqual(promises, ["2 read after acknowledged write", "503 means nothing applied", "1 no oversell", "3 convergence",
                                  "7 order numbers increase across failovers", "7 one primary an epoch", "7 failover", "7 fencing"])
    }

    func testAFenceOfTheSettledAttemptOnlyIsFound() {
        XCTAssertNotNil(firstSeedShowing(.unfencedRetry, model: model, within: 1...300))
    }

    /// f75a61a put back: a primary paused past its replacement answers reads when it wakes.
    func testADeposedPrimaryAnsweringReadsIsFound() {
        XCTAssertNotNil(firstSeedShowing(.deposedReads, model: model, within: 1...300))
    }

    /// bb3d558 put back: a backup that won an epoch and died before it heard the grant starts
    /// again as a backup of the old epoch, and the stack has no primary (first shown by seed
    /// 1471; the search from seed 1 takes a minute in a debug build, so it starts nearby).
    func testALostGrantIsFound() {
        XCTAssertNotNil(firstSeedShowing(.lostGrant, model: model, within: 1_401...1_500))
    }

    /// a64bff8 put back: a backup waits on its term's primary whatever it answers as; once that
    /// replica has stepped down for an epoch the backup won unheard, no replica leads (first
    /// shown by seed 3292; searched nearby, as for the lost grant).
    func testAPrimaryAnsweringAsABackupIsFound() {
        XCTAssertNotNil(firstSeedShowing(.primaryAnswersAsAnything, model: model, within: 3_201...3_300))
    }

    /// With every disk lost, counting the known gaps (a disk lost in a run with a failover hides
    /// what this hole breaks behind one).
    func testAPrimaryTrustingAStaleBackupIsFound() {
        XCTAssertNotNil(firstSeedShowing(.staleBackup, model: .standard, within: 1...100, strict: true))
    }

    /// The first seed that breaks a promise with `hole` put back and none without it.
    private func firstSeedShowing(_ hole: Hole, model: FaultModel, within seeds: ClosedRange<UInt64>, strict: Bool = false) -> UInt64? {
        let holed = Simulation(model: model, holes: [hole])
        let sound = Simulation(model: model)
        return seeds.first { seed in
            !holed.run(seed: seed).failures(strict: strict).isEmpty && sound.run(seed: seed).failures(strict: strict).isEmpty
        }
    }
}
