import Basics
import BazarCore
import InternalHTTP
import TierCalls
import Wire

/// Tells every front holding a read lease to drop the cached answers a batch of writes changes
/// (those holding a changed book; every search page of a new book's topic), before the primary
/// applies it. Each item carries its write's sequence number, so a front also refuses a later
/// fill that is older than the write. A front that does not confirm (down, hung, cut off) is
/// waited out: once its lease has run out it serves and fills nothing until it gets a fresh
/// lease, with an empty cache. A write is never applied while a front that might hold the old
/// value serves it.
struct Invalidator: Sendable {
    let client: InternalClient
    let leases: FrontLeases

    /// The most bytes of items one message carries (nginx and the front take bodies up to
    /// 64 KiB); a batch with more is told in several messages.
    static let messageBudget = 60_000

    /// Returns once every leased front has dropped what the items name or has been waited out.
    func invalidate(_ items: [(dependency: CacheDependency, seq: Int64)]) {
        leases.waitForGrace()
        let bodies = Self.messages(items.map { Invalidation.Item($0.dependency, seq: $0.seq).json.encoded() })
        for front in leases.announce(items.map(\.seq).max() ?? 0) {
            let confirmed = bodies.allSatisfy { body in
                let answer = try? client.send("POST", "/\(front)/invalidate", body: body, timeout: Timeouts.invalidation,
                                              resendable: true)
                return answer?.status == 200
            }
            if !confirmed {
                Log.warn("the front did not confirm an invalidation; waiting out its lease", [("front", front)])
                leases.waitOut(front)
            }
        }
    }

    /// `Invalidation` messages holding the encoded items, each within `messageBudget`.
    static func messages(_ items: [[UInt8]]) -> [[UInt8]] {
        var bodies: [[UInt8]] = []
        var current: [[UInt8]] = []
        var size = 0
        for item in items {
            if !current.isEmpty && size + item.count > messageBudget {
                bodies.append(Invalidation.encoded(current))
                current = []
                size = 0
            }
            current.append(item)
            size += item.count + 1
        }
        if !current.isEmpty { bodies.append(Invalidation.encoded(current)) }
        return bodies
    }
}
