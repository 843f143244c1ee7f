import HTTPMessages

/// What the tiers' routers share.
public enum Routing {
    /// Runs a router, answering a thrown `APIError` as its JSON response with `headers`.
    public static func answer(headers: [(String, String)] = [], _ route: () throws(APIError) -> Response) -> Response {
        do {
            return try route()
        } catch {
            return error.response(headers: headers)
        }
    }

    /// Whether a request reached a process it is not meant for: from the public listener to a
    /// replica, or through the internal listener to a `/<destination>/` this process is not.
    /// Across hosts that happens when a container takes over an address another tier held a
    /// moment ago, before nginx has learnt the move.
    public static func isMisdirected(_ request: Request, destinations: Set<Substring>) -> Bool {
        guard request.isInternal else { return true }
        guard let first = PathParsing.segments(request.path)?.first else { return false }
        return !destinations.contains(first)
    }

    /// The answer to a misdirected request: 503, without `X-Upstream` and marked as surely not
    /// applied (`X-Bazar-Not-Sent`), so that nginx tries another replica of a read and a caller
    /// of a write knows nothing was done.
    public static func misdirected() -> Response {
        APIError.unavailable("This request reached a process it is not meant for; nothing was done.")
            .response(headers: [(WriteIdentity.notSentHeader, "true")])
    }

    /// The operation of an internal call: nginx's internal listener passes
    /// `/<destination>/<operation…>`, and the destination only chose the process, so this is
    /// the path after it. `not_found` for a request from the public listener.
    public static func internalOperation(_ request: Request) throws(APIError) -> [Substring] {
        guard request.isInternal, let segments = PathParsing.segments(request.path), segments.count >= 2 else {
            throw .notFound("No such route.")
        }
        return Array(segments.dropFirst())
    }
}
