import Basics
import BazarCore
import InternalHTTP
import TierCalls
import Wire

/// The primary's side of the backup's witness records on the order replicas (see the order
/// replicas' `Witness`): a demotion (the backup is out of sync, so writes may be acknowledged
/// without it) must be stored on every order replica; that the backup is in sync again is
/// worth storing on any. Versions only grow: a replica that holds a newer record says so, and
/// the next record is numbered above it.
final class WitnessRecords: @unchecked Sendable {
    private let client: InternalClient
    private let replicas: [String]
    private let term: CatalogTerm
    // Used by the replicator's thread only.
    private var version: Int64 = 0

    init(client: InternalClient, replicas: [String], term: CatalogTerm) {
        self.client = client
        self.term = term
        self.replicas = replicas
    }

    /// Whether no order replica keeps records (then no demotion needs recording).
    var isEmpty: Bool { replicas.isEmpty }

    /// Records on every order replica that the backup is out of sync, and (in the same record)
    /// that writes through `committed` may be acknowledged without it; false when one did not
    /// store it (down, or a backup is standing in): the backup then stays counted in sync.
    func demote(committed: Int64) -> Bool {
        record(inSync: false, acknowledged: committed) == replicas.count
    }

    /// Records on every order replica, before writes through `seq` are acknowledged without the
    /// backup, that they may be; false when one did not store it (the writes then wait).
    /// Called from any request thread: it touches no record version.
    func acknowledge(through seq: Int64) -> Bool {
        let body = AcknowledgedThrough(seq, term: term.current).json.encoded()
        return replicas.allSatisfy { replica in
            let answer = try? client.send("POST", "/\(replica)/acknowledged", body: body, timeout: Timeouts.peerPush, resendable: true)
            stepDownIfRefused(answer)
            guard let answer, answer.status == 200,
                  let held = AcknowledgedThrough(body: answer.body) else { return false }
            return held.through >= seq
        }
    }

    /// Records on the order replicas that the backup is in sync; false when none stored it.
    func promote() -> Bool {
        record(inSync: true) > 0
    }

    /// Sends the next record to every replica; how many stored it.
    private func record(inSync: Bool, acknowledged: Int64? = nil) -> Int {
        version += 1
        let body = WitnessRecord(term: term.current, version: version, inSync: inSync, acknowledged: acknowledged).json.encoded()
        var stored = 0
        for replica in replicas {
            let answer = try? client.send("POST", "/\(replica)/witness", body: body, timeout: Timeouts.peerPush, resendable: true)
            stepDownIfRefused(answer)
            guard let answer, answer.status == 200,
                  let held = WitnessRecordAnswer(body: answer.body) else { continue }
            if held.recorded { stored += 1 }
            if held.version >= version { version = held.version + 1 }
        }
        return stored
    }

    /// Whether an order replica still holds this primary's term. While one does, no newer
    /// primary has acknowledged a write: a promoted primary's backup is out of sync, so it
    /// acknowledges only what every witness recorded under its own term. Any thread.
    func oneStillHoldsTheTerm() -> Bool {
        let mine = term.current
        return replicas.contains { replica in
            guard let answer = try? client.send("GET", "/\(replica)/witness", timeout: Timeouts.peerPush),
                  answer.status == 200 else { return false }
            return WitnessState(body: answer.body)?.term == mine
        }
    }

    /// Steps down when a witness refused a record for a newer epoch.
    private func stepDownIfRefused(_ answer: InternalResponse?) {
        if let answer, let newer = StaleEpoch(status: answer.status, body: answer.body)?.known, newer.epoch > term.current.epoch {
            term.stepDown(to: newer)
        }
    }
}
