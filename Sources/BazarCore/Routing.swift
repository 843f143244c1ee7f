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
