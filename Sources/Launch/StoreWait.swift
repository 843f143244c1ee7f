import Basics
import BazarCore
import Foundation
import HTTPMessages
import Store
import Synchronization

/// A replica whose store cannot be opened yet (a full disk, an I/O error): instead of exiting
/// (and being started again and again), it serves `503 unavailable` on its socket, with nothing
/// applied, and tries again every second; once the store opens it serves the tier itself.
final class StoreWait: Sendable {
    /// How long between two tries.
    static let retryInterval: TimeInterval = 1

    private let handler = Mutex<(@Sendable (Request) -> Response)?>(nil)

    /// The tier's answer once it runs; `503` until then.
    func handle(_ request: Request) -> Response {
        if let serve = handler.withLock({ $0 }) { return serve(request) }
        return APIError.unavailable("This replica's store cannot be opened yet (is the disk full?); nothing was applied.").response()
    }

    /// Tries `makeTier` every `retryInterval` on a thread of its own until it succeeds, then
    /// serves the tier; any failure but the storage's exits 2, as at the first try. A tier that needs sockets besides the main one cannot be served late:
    /// the process exits 1 (its supervisor starts it again).
    func retry(_ program: String, _ flags: Flags, _ makeTier: @escaping @Sendable (Flags) throws -> TierProgram) {
        let thread = Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: Self.retryInterval)
                do {
                    let tier = try makeTier(flags)
                    guard tier.extraSockets.isEmpty else {
                        Log.error("the store opened, but this program needs sockets it can no longer open; exiting", [("program", program)])
                        exit(1)
                    }
                    handler.withLock { $0 = tier.metrics.observing(tier.handle) }
                    Log.info(tier.startMessage)
                    return
                } catch let error as DatabaseError where error.isStorageFailure {
                    Log.limited("store-wait", perSecond: 1, .error, "the store still cannot be opened; serving 503 and trying again",
                                [("program", program), ("error", "\(error)")])
                } catch {
                    Log.error("bad command line or configuration", [("program", program), ("error", "\(error)")])
                    exit(2)
                }
            }
        }
        thread.name = "store-wait"
        thread.start()
    }
}
