import BazarCore
import InternalHTTP
import TierCalls

/// Tells every front holding a read lease to drop the cached answers holding the books a batch
/// of writes changes, before the primary applies it. Each item carries its write's sequence
/// number, so a front also refuses a later fill that is older than the write. A front that does
/// not confirm (down, hung, cut off) is waited out: once its lease has run out it serves and
/// fills nothing until it gets a fresh lease, with an empty cache. A write is never applied
/// while a front that might hold the old value serves it.
struct Invalidator: Sendable {
    let client: InternalClient
    let leases: FrontLeases

    /// Returns once every leased front has dropped the books or has been waited out.
    func invalidate(_ items: [(book: Int64, seq: Int64)]) {
        leases.waitForGrace()
        let list = items.map { JSON.object([("book", .int($0.book)), ("seq", .int($0.seq))]) }
        let body = JSON.object([("items", .array(list))]).encoded()
        for front in leases.announce(items.map(\.seq).max() ?? 0) {
            let answer = try? client.send("POST", "/\(front)/invalidate", body: body, timeout: Timeouts.invalidation,
                                          resendable: true)
            if answer?.status != 200 {
                Log.warn("the front did not confirm an invalidation; waiting out its lease", [("front", front)])
                leases.waitOut(front)
            }
        }
    }
}
