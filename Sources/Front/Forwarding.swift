import BazarCore
import HTTPMessages
import InternalHTTP

/// Passes a request on to another tier through nginx's internal listener and its answer back,
/// keeping the headers the API promises (`X-Upstream`, `Idempotent-Replayed`).
struct Forwarding: Sendable {
    let client: InternalClient

    func forward(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) -> Response {
        do {
            let answer = try client.send(method, path, headers: headers, body: body)
            var passed = [Response.jsonContentType]
            for name in ["X-Upstream", "Idempotent-Replayed"] {
                if let value = answer.header(name) { passed.append((name, value)) }
            }
            if answer.status == 502 || answer.status == 504 {
                return APIError.unavailable("The \(path.split(separator: "/").first ?? "") tier did not answer.").response()
            }
            return Response(status: answer.status, headers: passed, body: answer.body)
        } catch {
            return APIError.unavailable("The internal listener did not answer.").response()
        }
    }
}
