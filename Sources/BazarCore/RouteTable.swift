import HTTPMessages

/// A tier's routes, each declared once: its name (the path's first segment after any
/// destination), how many segments it has, the methods it allows and what answers it. The table
/// names the routes its request metrics count by, finds a request's route (`not_found` for no
/// such path, `method_not_allowed` with the methods the path allows, or `not_found` for both
/// where a route is its method and path) and knows which paths a trailing slash may end.
public struct RouteTable<Endpoint: Sendable>: Sendable {
    /// One route: `name` with `arity` segments (the name included), answered by `endpoint` for
    /// `methods`.
    public struct Route: Sendable {
        public let name: Substring
        public let arity: Int
        public let methods: [String]
        public let endpoint: Endpoint

        /// A route from its parts.
        public init(_ name: Substring, _ arity: Int, _ methods: [String], _ endpoint: Endpoint) {
            self.name = name
            self.arity = arity
            self.methods = methods
            self.endpoint = endpoint
        }
    }

    /// The routes, in the order they were declared.
    public let routes: [Route]

    /// A table of `routes`.
    public init(_ routes: [Route]) {
        self.routes = routes
    }

    /// Each route name once, in declaration order: the routes request metrics count by.
    public var names: [String] {
        var seen = Set<Substring>()
        return routes.compactMap { seen.insert($0.name).inserted ? String($0.name) : nil }
    }

    /// The route for `method` on `segments`: `not_found` when no route has that name and
    /// length, `method_not_allowed` (naming the allowed methods) when the path's routes do not
    /// allow `method`.
    public func route(_ method: String, _ segments: [Substring]) throws(APIError) -> Route {
        let paths = routes(at: segments)
        guard !paths.isEmpty else { throw .notFound("No such route.") }
        guard let route = paths.first(where: { $0.methods.contains(method) }) else {
            throw .methodNotAllowed(allow: paths.flatMap(\.methods))
        }
        return route
    }

    /// The route for `method` on `segments`, `not_found` for anything else, a method the path
    /// does not allow included: how the replicas' internal routes answer, whose only callers
    /// are the other tiers, which name a route by its method and path together.
    public func exactRoute(_ method: String, _ segments: [Substring]) throws(APIError) -> Route {
        guard let route = routes(at: segments).first(where: { $0.methods.contains(method) }) else {
            throw .notFound("No such route.")
        }
        return route
    }

    /// The routes whose name and length are those of `segments`.
    private func routes(at segments: [Substring]) -> [Route] {
        routes.filter { $0.name == segments.first && $0.arity == segments.count }
    }

    /// `segments` without the empty one a trailing slash leaves after a whole route: `/info/1/`
    /// is `/info/1` and `/orders/` is `/orders`, but `/info/` keeps its empty id (a 400).
    public func withoutTrailingSlash(_ segments: [Substring]) -> [Substring] {
        guard segments.count > 1, segments.last == "",
              routes.contains(where: { $0.name == segments[0] && $0.arity == segments.count - 1 }) else { return segments }
        return Array(segments.dropLast())
    }
}
