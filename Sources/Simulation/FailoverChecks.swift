import BazarCore

/// Promise 7 (failover) and the known gaps the failover brings, judged from the history and
/// the observer's notes (who answered which write in which epoch, each epoch's first grant,
/// what each new primary held when it won).
extension Checker {
    static let unreplicatedSettles = "the keys of updates and the aborts of settles do not travel to the backup, and a "
        + "deposed primary answers refusals and 'not applied' from its own store until it learns the newer epoch: across "
        + "a failover a settle finds no update, a try fenced before it may still buy, and a retry is refused what the new primary sold"

    /// Whether a deposed primary refused the key's write or settled it as not applied.
    func settledByADeposedPrimary(_ key: String) -> Bool {
        history.answeredWhileDeposed.contains(key)
    }

    /// From the loss of the primary for good to the first write acknowledged to a probe after it.
    var failoverTime: Int64? {
        guard let loss = final.lostForGood else { return nil }
        return history.operations.filter { final.probes.contains($0.client) && $0.reply?.status == 200 }
            .compactMap(\.completed).min().map { $0 - loss.at }
    }

    /// One primary an epoch, order numbers increasing across epochs, writes acknowledged again
    /// within the bound after the primary is lost for good, and at most one leader at the end.
    func failover(fail: (String, String) -> Void) {
        // Promise 7: one primary acknowledges in an epoch; order numbers acknowledged in a later
        // epoch are above every one acknowledged in an earlier one.
        var primaries: [Int64: NodeName] = [:]
        var numbers: [Int64: (low: Int64, high: Int64)] = [:]
        for ack in history.acknowledgements {
            if let other = primaries[ack.epoch], other != ack.by {
                fail("7 one primary an epoch", "epoch \(ack.epoch): \(other) and \(ack.by) both acknowledged writes")
            }
            primaries[ack.epoch] = ack.by
            if let number = ack.order {
                let range = numbers[ack.epoch] ?? (number, number)
                numbers[ack.epoch] = (min(range.low, number), max(range.high, number))
            }
        }
        let epochs = numbers.keys.sorted()
        for (earlier, later) in zip(epochs, epochs.dropFirst()) where numbers[earlier]!.high >= numbers[later]!.low {
            fail("7 order numbers increase across failovers",
                 "epoch \(earlier) acknowledged order \(numbers[earlier]!.high), epoch \(later) order \(numbers[later]!.low)")
        }
        // Promise 7: writes acknowledged again within the bound after the primary is lost for good
        // (when its backup was in sync: else no replica can show it holds every acknowledged write).
        if let loss = final.lostForGood, loss.backupInSync, (failoverTime ?? .max) > final.failoverBound {
            let first = failoverTime.map { loss.at + $0 }
            fail("7 failover", "\(loss.name) lost for good at \(World.seconds(loss.at)): "
                 + (first.map { "the first write acknowledged after it at \(World.seconds($0))" } ?? "no write acknowledged after it")
                 + " (the bound: \(World.seconds(final.failoverBound)) s)")
        }
        if final.leaders.count > 1 {
            fail("7 fencing", "\(final.leaders.map(\.description).joined(separator: " and ")) both lead at the end")
        }
    }
}
