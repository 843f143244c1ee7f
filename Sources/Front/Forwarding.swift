import BazarCore
import HTTPMessages
import InternalHTTP
import TierCalls

/// Passes a read on to another tier through nginx's internal listener and its answer back,
/// keeping the headers the API promises (`X-Upstream`, `Idempotent-Replayed`).
struct Forwarding: Sendable {
    let client: InternalClient

    /// A GET to `path`; no answer, or nginx's own error, is `503 unavailable`.
    func read(_ path: String) -> Response {
        guard let answer = try? client.send("GET", path, timeout: Timeouts.read), answer.isAnswer else {
            return APIError.unavailable("No \(path.split(separator: "/").first ?? "") replica answered.").response()
        }
        return Self.passOn(answer)
    }

    /// A tier's own answer, with the headers the API promises.
    static func passOn(_ answer: InternalResponse) -> Response {
        var headers = [Response.jsonContentType]
        for name in ["X-Upstream", "Idempotent-Replayed"] {
            if let value = answer.header(name) { headers.append((name, value)) }
        }
        return Response(status: answer.status, headers: headers, body: answer.body)
    }
}
