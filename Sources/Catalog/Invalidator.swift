import BazarCore
import Glibc
import InternalHTTP

/// Tells the front to drop cached answers holding the books a batch of writes changes, before
/// the primary applies it. Each item carries its write's sequence number, so the front also
/// refuses a later fill that is older than the write.
struct Invalidator: Sendable {
    let client: InternalClient

    /// Returns once the front has dropped the book, or when the front is down (nginx answers
    /// 502 three times in a row: a front that is not running caches nothing). Throws
    /// `unavailable` when the front does not answer in time, so the write is not applied.
    func invalidate(_ items: [(book: Int64, seq: Int64)]) throws(APIError) {
        let list = items.map { JSON.object([("book", .int($0.book)), ("seq", .int($0.seq))]) }
        let body = JSON.object([("items", .array(list))]).encoded()
        for attempt in 1...3 {
            if let response = try? client.send("POST", "/front/invalidate", body: body, timeout: .seconds(2)) {
                if response.status == 200 { return }
                guard response.status == 502 else { break }
            }
            if attempt < 3 { usleep(20_000) }
        }
        if (try? client.send("POST", "/front/invalidate", body: body, timeout: .seconds(2)))?.status == 502 { return }
        throw .unavailable("The front did not confirm the cache invalidation; nothing was applied.")
    }
}
