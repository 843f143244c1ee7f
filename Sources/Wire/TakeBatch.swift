import Basics
import BazarCore

/// The takes of an order replica's concurrent purchases, sent to the catalog primary in one
/// call (`POST /catalog-primary/take-batch`): `{"takes": [{"book", "key", "attempt"}, ...]}`.
/// Each take is the one `POST /catalog-primary/take/<book>` would make under the same key and
/// attempt; the primary answers each alone (`TakeBatchAnswer`).
public struct TakeBatch: WireMessage, Sendable, Equatable {
    /// One purchase's take.
    public struct Take: Sendable, Equatable {
        /// The book to take a copy of.
        public var book: Int64
        /// The purchase's idempotency key.
        public var key: String
        /// This try of the purchase.
        public var attempt: String

        /// A take from its parts.
        public init(book: Int64, key: String, attempt: String) {
            self.book = book
            self.key = key
            self.attempt = attempt
        }

        /// `{"book", "key", "attempt"}`.
        public var json: JSON { .object([("book", .int(book)), ("key", .string(key)), ("attempt", .string(attempt))]) }

        /// Reads a take; nil when a field is missing, the book is not a positive id or the key
        /// or attempt is empty.
        public init?(json: JSON) {
            guard let book = json["book"]?.int64Value, book > 0, let key = json["key"]?.stringValue, !key.isEmpty,
                  let attempt = json["attempt"]?.stringValue, !attempt.isEmpty else { return nil }
            self.init(book: book, key: key, attempt: attempt)
        }
    }

    /// The takes, in the order their answers come back.
    public var takes: [Take]

    /// A batch of `takes`.
    public init(_ takes: [Take]) { self.takes = takes }

    /// `{"takes": [...]}`.
    public var json: JSON { .object([("takes", .array(takes.map(\.json)))]) }

    /// The same from takes already encoded (`Take.json`), each copied once.
    public static func encoded(_ takes: [[UInt8]]) -> [UInt8] {
        EncodedJSON.object([("takes", EncodedJSON.array(takes))])
    }

    /// Reads a batch; nil when `takes` is missing, empty, or holds a malformed take.
    public init?(json: JSON) {
        guard let items = json["takes"]?.arrayValue, !items.isEmpty else { return nil }
        let takes = items.compactMap(Take.init(json:))
        guard takes.count == items.count else { return nil }
        self.init(takes)
    }
}

/// The catalog primary's answer to a `TakeBatch`: one answer per take, in the batch's order,
/// each what `POST /catalog-primary/take/<book>` would have answered (its status, its body, and
/// whether an earlier attempt under the key had taken it).
public struct TakeBatchAnswer: WireMessage, Sendable, Equatable {
    /// One take's answer.
    public struct Answer: Sendable, Equatable {
        /// The HTTP status the take alone would have had.
        public var status: Int
        /// Its body: a `TakeAnswer`, or an error.
        public var body: JSON
        /// Whether it replays an earlier attempt's take (`Idempotent-Replayed`).
        public var replayed: Bool

        /// An answer from its parts.
        public init(status: Int, body: JSON, replayed: Bool) {
            self.status = status
            self.body = body
            self.replayed = replayed
        }

        /// `{"status", "body", "replayed"}`.
        public var json: JSON { .object([("status", .int(Int64(status))), ("body", body), ("replayed", .bool(replayed))]) }

        /// Reads an answer; nil when the status or the body is missing.
        public init?(json: JSON) {
            guard let status = json["status"]?.int64Value, (100...599).contains(status), let body = json["body"] else { return nil }
            self.init(status: Int(status), body: body, replayed: json["replayed"]?.boolValue == true)
        }
    }

    /// The answers, one per take.
    public var answers: [Answer]

    /// The answers `answers`.
    public init(_ answers: [Answer]) { self.answers = answers }

    /// `{"answers": [...]}`.
    public var json: JSON { .object([("answers", .array(answers.map(\.json)))]) }

    /// Reads the answers; nil when `answers` is missing or holds a malformed answer.
    public init?(json: JSON) {
        guard let items = json["answers"]?.arrayValue else { return nil }
        let answers = items.compactMap(Answer.init(json:))
        guard answers.count == items.count else { return nil }
        self.init(answers)
    }
}
