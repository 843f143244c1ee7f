import Basics
import HTTPMessages

/// An API error: its status, slug and one human sentence, answered as
/// `{"error": {"code": "<slug>", "message": "<sentence>"}}`.
public struct APIError: Error, Sendable, Equatable {
    /// The HTTP status.
    public let status: Int
    /// The API.md error slug (`bad_request`, `not_found`, ...).
    public let code: String
    /// One human sentence.
    public let message: String
    /// Extra headers (the `Allow` of a 405).
    public let headers: [(String, String)]

    /// An error with an explicit status and code.
    public init(status: Int, code: String, message: String, headers: [(String, String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public static func == (a: APIError, b: APIError) -> Bool {
        a.status == b.status && a.code == b.code && a.message == b.message
    }

    /// 400 `bad_request`.
    public static func badRequest(_ message: String) -> APIError { APIError(status: 400, code: "bad_request", message: message) }
    /// 401 `unauthorized`.
    public static func unauthorized(_ message: String) -> APIError { APIError(status: 401, code: "unauthorized", message: message) }
    /// 404 `not_found`.
    public static func notFound(_ message: String) -> APIError { APIError(status: 404, code: "not_found", message: message) }
    /// 405 `method_not_allowed` with the `Allow` header.
    public static func methodNotAllowed(allow: [String]) -> APIError {
        APIError(status: 405, code: "method_not_allowed",
                 message: "Use \(allow.joined(separator: " or ")) on this route.",
                 headers: [("Allow", allow.joined(separator: ", "))])
    }
    /// 409 `out_of_stock`.
    public static func outOfStock(_ message: String) -> APIError { APIError(status: 409, code: "out_of_stock", message: message) }
    /// 413 `payload_too_large`.
    public static let payloadTooLarge = APIError(status: 413, code: "payload_too_large", message: "Request body is larger than 64 KiB.")
    /// 429 `too_many_requests`, with `Retry-After: 1`: refused at once because the stack is busy.
    public static func tooManyRequests(_ message: String) -> APIError {
        APIError(status: 429, code: "too_many_requests", message: message, headers: [("Retry-After", "1")])
    }
    /// 504 `outcome_unknown`: a write may or may not have been applied.
    public static let outcomeUnknown = APIError(
        status: 504, code: "outcome_unknown",
        message: "The write may or may not have been applied; retry with the same Idempotency-Key to settle it.")
    /// 503 `unavailable`. On `/catalog-primary/` a 503 means "not here": nginx passes the request
    /// on to the other catalog replica and counts this one failed for a second, so the primary
    /// answers its own refusals (`attemptSettled`, `leaseRefused`) with 409 instead.
    public static func unavailable(_ message: String) -> APIError { APIError(status: 503, code: "unavailable", message: message) }
    /// 409 `attempt_settled`: the primary refuses, for good, a write attempt settled as not
    /// applied (or made under one); nothing was done. Only a caller that already gave up on the
    /// attempt gets it.
    public static let attemptSettled = APIError(status: 409, code: "attempt_settled",
                                                message: "This write attempt was settled as not applied; it never will be.")
    /// 409 `lease_refused`: the primary grants no read lease to this front now.
    public static func leaseRefused(_ message: String) -> APIError { APIError(status: 409, code: "lease_refused", message: message) }

    /// Runs a call into a replica's store, turning a storage failure into `503 unavailable`
    /// (logged with its cause): `what` says what could not be done.
    public static func unavailableOnFailure<T>(_ what: String, _ body: () throws -> T) throws(APIError) -> T {
        do {
            return try body()
        } catch {
            Log.error("store error", [("error", "\(error)")])
            throw .unavailable("The store failed: \(what).")
        }
    }

    /// The error as a JSON value.
    public var json: JSON {
        .object([("error", .object([("code", .string(code)), ("message", .string(message))]))])
    }

    /// The error as a response, with any extra headers.
    public func response(headers extra: [(String, String)] = []) -> Response {
        Response.json(status, json, headers: headers + extra)
    }
}

extension Response {
    /// The `Content-Type` of every Bazar response.
    public static let jsonContentType = ("Content-Type", "application/json; charset=utf-8")

    /// The `X-Upstream` header a replica puts on everything it answers.
    public static func upstream(_ replica: String) -> [(String, String)] {
        [("X-Upstream", replica)]
    }

    /// A JSON response.
    public static func json(_ status: Int, _ value: JSON, headers: [(String, String)] = []) -> Response {
        Response(status: status, headers: [jsonContentType] + headers, body: value.encoded())
    }
}
