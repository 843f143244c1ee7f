import Basics
@testable import BazarCore
@testable import Catalog
import Foundation
@testable import InternalHTTP
import Store
import Wire
import XCTest

/// A value shared between a test and the threads it starts.
private final class Shared<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// The primary's wait for replication (`Replicator.waitReplicated`): each write sleeps alone,
/// is woken once its sequence number is covered, and answers timed out at its deadline.
final class ReplicationWaitTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try TestSupport.makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: WaitingWrites

    func testWhileInSyncOnlyTheWritesTheBackupAckedAreReady() {
        var waiting = WaitingWrites()
        let early = waiting.add(3)
        let late = waiting.add(7)
        XCTAssertTrue(waiting.ready(inSync: true, acked: 2, witnessed: 9, recording: false).isEmpty)
        XCTAssertEqual(waiting.ready(inSync: true, acked: 5, witnessed: 0, recording: false).map(\.seq), [3])
        XCTAssertTrue(waiting.ready(inSync: true, acked: 5, witnessed: 0, recording: false).isEmpty, "each waiter is woken once")
        XCTAssertEqual(waiting.ready(inSync: true, acked: 7, witnessed: 0, recording: false).map(\.seq), [7])
        waiting.remove(early)
        waiting.remove(late)
    }

    func testWhileDemotedTheWitnessedAreReadyAndEveryoneWhenNoneRecords() {
        var waiting = WaitingWrites()
        _ = waiting.add(3)
        _ = waiting.add(7)
        XCTAssertEqual(waiting.ready(inSync: false, acked: 9, witnessed: 4, recording: true).map(\.seq), [3])
        XCTAssertEqual(waiting.ready(inSync: false, acked: 0, witnessed: 4, recording: false).map(\.seq), [7],
                       "with nobody recording, a waiter must wake to record")
    }

    func testARemovedWaiterIsNotWoken() {
        var waiting = WaitingWrites()
        let waiter = waiting.add(3)
        waiting.remove(waiter)
        XCTAssertTrue(waiting.ready(inSync: true, acked: 10, witnessed: 10, recording: false).isEmpty)
    }

    // MARK: Replicator, with a real HTTP server standing in for nginx, the backup and an order replica

    /// A started replicator counting its backup in sync, whose backup answers that it applied
    /// `backupApplied` at every push.
    private func makeReplicator(backupApplied: Shared<Int64>) throws -> (Replicator, TestHTTPServer) {
        let socket = directory.appendingPathComponent("i.sock").path
        let nginx = try TestHTTPServer(path: socket) { request in
            if request.path == "/catalog-2/replicate" {
                return (200, String(decoding: PushAnswer(applied: backupApplied.value, takes: 0, keys: WriteKey.noneHeld, free: -1, receipt: 1).json.encoded(), as: UTF8.self), [])
            }
            return (200, #"{"recorded":true,"version":1}"#, [])
        }
        let client = InternalClient(.unix(path: socket), secret: "test-secret")
        let store = SharedStore(try CatalogStore(path: directory.appendingPathComponent("catalog.db").path, identity: .test))
        let term = try CatalogTerm(name: "catalog-1", store: store, first: Term(epoch: 1, primary: "catalog-1"))
        let replicator = Replicator(client: client, backup: "catalog-2", memory: CatalogMemory(books: defaultBooks, applied: 0),
                                    store: store, witnesses: WitnessRecords(client: client, replicas: ["order-1"], term: term),
                                    term: term)
        replicator.start(backupInSync: true)
        return (replicator, nginx)
    }

    /// Waits, on a thread of its own, for `seq` until `deadline`; the answer, once it came.
    private func waitInBackground(_ replicator: Replicator, _ seq: Int64, until deadline: Int64) -> (DispatchGroup, Shared<Bool?>) {
        let answered = DispatchGroup()
        let answer = Shared<Bool?>(nil)
        answered.enter()
        Thread.detachNewThread {
            answer.value = replicator.waitReplicated(seq, until: deadline)
            answered.leave()
        }
        return (answered, answer)
    }

    func testAWaiterIsWokenWhenItsSequenceReplicates() throws {
        let backupApplied = Shared<Int64>(0)
        let (replicator, nginx) = try makeReplicator(backupApplied: backupApplied)
        defer { nginx.stop() }
        replicator.committed(5)
        let deadline = Monotonic.now() + Duration.seconds(120).nanoseconds
        let (answered, answer) = waitInBackground(replicator, 5, until: deadline)
        backupApplied.value = 5
        // Far sooner than its deadline: it is woken by the acknowledgement, not by the clock.
        XCTAssertEqual(answered.wait(timeout: .now() + 60), .success, "the waiter was not woken when its write replicated")
        XCTAssertEqual(answer.value, true)
    }

    func testAWaiterPastItsDeadlineIsAnsweredTimedOutEvenThoughALaterBatchReplicates() throws {
        let backupApplied = Shared<Int64>(0)
        let (replicator, nginx) = try makeReplicator(backupApplied: backupApplied)
        defer { nginx.stop() }
        replicator.committed(5)
        let deadline = Monotonic.now() + Duration.milliseconds(100).nanoseconds
        let (answered, answer) = waitInBackground(replicator, 5, until: deadline)
        while Monotonic.now() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        // A later batch, covering the write, replicates after the deadline.
        replicator.committed(9)
        backupApplied.value = 9
        XCTAssertEqual(answered.wait(timeout: .now() + 60), .success, "the waiter was not answered")
        XCTAssertEqual(answer.value, false, "a write past its deadline is answered timed out")
    }
}
