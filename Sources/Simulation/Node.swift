import BazarCore

/// A simulated process: a state machine driven by messages and timers. What it stores survives
/// a crash (unless the disk is lost); everything else is gone, including the calls it waits on.
class Node {
    let name: NodeName
    unowned let world: World
    /// The calls this run waits on, by id: what to do with the reply (nil: it timed out).
    private var calls: [Int: (Message?) -> Void] = [:]

    init(name: NodeName, world: World) {
        self.name = name
        self.world = world
    }

    /// Starts a run (at the beginning and after each restart).
    func boot() {}

    /// Loses what was not stored (and the store with `loseDisk`).
    func crash(loseDisk: Bool) {
        calls = [:]
    }

    /// Handles a request (replies go through `handleReply`).
    func handle(_ message: Message, from: Address) {}

    /// Breaks reference cycles at the end of a run.
    func forget() {
        calls = [:]
    }

    final func receive(_ message: Message, from: Address) {
        if message.isReply {
            calls.removeValue(forKey: message.call)?(message)
        } else {
            handle(message, from: from)
        }
    }

    /// This process's monotonic clock.
    final var clock: Int64 { world.clock(name) }

    /// Calls `to` with the request `make` builds from a new call id; `reply` gets the answer, or
    /// nil when none came within `timeout` (on this process's clock).
    final func call(_ to: NodeName, timeout: Duration, _ make: (Int) -> Message, reply: @escaping (Message?) -> Void) {
        let id = world.newCall()
        calls[id] = reply
        world.send(from: .node(name), to: .node(to), make(id))
        world.timer(name, after: timeout.nanoseconds, { [self] in calls[id] == nil ? nil : "timeout #\(id)" }) { [self] in
            calls.removeValue(forKey: id)?(nil)
        }
    }

    /// Calls every one of `peers` at once; `done` gets the replies (nil for none) in their order.
    final func callAll(_ peers: [NodeName], timeout: Duration, _ make: @escaping (Int) -> Message,
                       done: @escaping ([Message?]) -> Void) {
        var replies = [Message?](repeating: nil, count: peers.count)
        var waiting = peers.count
        for (index, peer) in peers.enumerated() {
            call(peer, timeout: timeout, make) { reply in
                replies[index] = reply
                waiting -= 1
                if waiting == 0 { done(replies) }
            }
        }
    }

    /// Calls whichever catalog replica leads, as nginx's `/catalog-primary/` upstream does:
    /// catalog-1 first and, when it refused (down, cut off, or not the primary: nothing sent),
    /// catalog-2, within one deadline for the whole call; both refusing is a refusal.
    final func callPrimary(timeout: Duration, _ make: @escaping (Int) -> Message, reply: @escaping (Message?) -> Void) {
        let start = clock
        call(.catalog1, timeout: timeout, make) { [self] first in
            guard first?.isRefusal == true else { return reply(first) }
            call(.catalog2, timeout: .nanoseconds(max(1, timeout.nanoseconds - (clock - start))), make, reply: reply)
        }
    }

    final func reply(_ to: Address, _ message: Message) {
        world.send(from: .node(name), to: to, message)
    }

    /// Runs `action` after `duration` of this process's clock.
    final func after(_ duration: Duration, _ label: String, _ action: @escaping () -> Void) {
        world.timer(name, after: duration.nanoseconds, { label }, action)
    }
}
