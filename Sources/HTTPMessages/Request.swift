/// One FastCGI request as a plain value: what a handler needs, copied out of libfcgi.
public struct Request: Sendable {
    /// The HTTP method, e.g. `GET`.
    public var method: String
    /// The raw (still percent-encoded) path of the request URI, without the query.
    public var path: String
    /// The raw query string (after `?`), empty when there is none.
    public var query: String
    /// HTTP headers in CGI form, in arrival order: `HTTP_IDEMPOTENCY_KEY` for `Idempotency-Key`.
    public var cgiHeaders: [(name: String, value: String)]
    /// The request body (empty when there is none or when it exceeded the limit).
    public var body: [UInt8]
    /// True when the body was longer than the server's body limit and was not read.
    public var bodyTooLarge: Bool
    /// True when nginx's internal listener passed the request (`BAZAR_LISTENER=internal`).
    public var isInternal: Bool
    /// nginx's id of the request (`BAZAR_REQUEST_ID`, 32 hex digits), empty when none was passed.
    public var requestID: String
    /// The id the answer's `X-Request-Id` names (`BAZAR_TRACE_ID`: the client's when sane, else
    /// nginx's; on the internal listener, the caller's), empty when none was passed.
    public var traceID: String
    /// True when connections waited in the accept queue of the socket it came on as it was
    /// read: that socket's threads were not keeping up.
    public var connectionsWaiting = false
    /// True when nginx passed it through the front's queue of cache misses (`BAZAR_MISS_QUEUE=1`,
    /// a FastCGI parameter only nginx sets).
    public var throughMissQueue = false
    /// True when a request that came through the queue of misses finds its connection closed
    /// as it is read: nginx gave up on it while it waited (checked for those requests only).
    public var callerGone = false

    /// Makes a request; every part but the method and path has an empty default.
    public init(method: String, path: String, query: String = "", headers: [String: String] = [:],
                body: [UInt8] = [], bodyTooLarge: Bool = false, isInternal: Bool = false, requestID: String = "",
                traceID: String = "") {
        self.method = method
        self.path = path
        self.query = query
        self.cgiHeaders = headers.map { (Request.cgiName($0.key), $0.value) }
        self.body = body
        self.bodyTooLarge = bodyTooLarge
        self.isInternal = isInternal
        self.requestID = requestID
        self.traceID = traceID
    }

    /// The value of an HTTP header by its usual name (`Authorization`), if present.
    public func header(_ name: String) -> String? {
        let cgi = Request.cgiName(name)
        return cgiHeaders.first { $0.name == cgi }?.value
    }

    /// `Idempotency-Key` → `HTTP_IDEMPOTENCY_KEY`.
    static func cgiName(_ name: String) -> String {
        "HTTP_" + String(name.uppercased().map { $0 == "-" ? "_" : $0 })
    }
}
