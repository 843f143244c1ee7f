import Basics
import BazarCore
import HTTPMessages

/// One read's answer as the front gives it, from a catalog replica or from the cache: the
/// replica's status and body, its entity tag (on a 200), the `X-Cache` label and `X-Upstream`.
/// A client that already holds the current tag (`If-None-Match`) gets `304 Not Modified` with
/// the same headers and no body.
struct CachedRead: Sendable {
    let status: Int
    let etag: String?
    let headers: [(String, String)]
    let body: [UInt8]

    /// The answer for a 200 body tagged `etag`, or for another status (untagged).
    init(status: Int, etag: String?, cache label: String, upstream: [(String, String)], body: [UInt8]) {
        self.status = status
        self.etag = status == 200 ? etag : nil
        self.headers = (self.etag.map { [("ETag", $0)] } ?? []) + [("X-Cache", label)] + upstream
        self.body = body
    }

    /// The full answer.
    var full: Response { Response(status: status, headers: [Response.jsonContentType] + headers, body: body) }

    /// The answer without a body, for a client whose copy is current.
    var notModified: Response { Response(status: 304, headers: headers) }

    /// `notModified` when `ifNoneMatch` names the current tag, else `full`.
    func answer(ifNoneMatch: String?) -> Response {
        guard let etag, Conditions.noneMatch(ifNoneMatch, current: etag) else { return full }
        return notModified
    }
}

/// A cached HIT answer, encoded both ways ahead of time, so a hit costs one lookup and one write.
struct CacheEntry: CacheValue {
    let etag: String?
    let full: [UInt8]
    let notModified: [UInt8]

    init(_ read: CachedRead) {
        etag = read.etag
        full = read.full.encoded()
        notModified = read.notModified.encoded()
    }

    var byteCount: Int { full.count + notModified.count + (etag?.utf8.count ?? 0) + MemoryLayout<Self>.size }

    /// As `CachedRead.answer(ifNoneMatch:)`.
    func answer(ifNoneMatch: String?) -> Response {
        guard let etag, Conditions.noneMatch(ifNoneMatch, current: etag) else { return .preencoded(status: 200, bytes: full) }
        return .preencoded(status: 304, bytes: notModified)
    }
}

/// How the reads tag their 200 answers.
enum EntityTags {
    /// `/info/{id}`: the book's version, `"41"`.
    static func book(_ body: [UInt8]) -> String? {
        (try? JSON.parse(body))?["version"]?.int64Value.map { "\"\($0)\"" }
    }

    /// `/search/{topic}`: the 64-bit FNV-1a hash of the body in hex, `"9f0c…"`. The body is
    /// the same from every replica that agrees on the listed books, and changes with them.
    static func listing(_ body: [UInt8]) -> String? {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in body { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return "\"" + String(repeating: "0", count: 16 - hex.count) + hex + "\""
    }
}
