/// An HTTP response as a plain value, written to nginx as a FastCGI `Status:` header block and body.
public struct Response: Sendable {
    /// The HTTP status code.
    public var status: Int
    /// Extra headers, in order (Content-Length is added when encoding).
    public var headers: [(String, String)]
    /// The body bytes.
    public var body: [UInt8]
    private var encodedBytes: [UInt8]?

    /// A response with the given status, headers and body.
    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response whose wire bytes were encoded earlier (a cache entry); `status` is kept for logging.
    public static func preencoded(status: Int, bytes: [UInt8]) -> Response {
        var response = Response(status: status)
        response.encodedBytes = bytes
        return response
    }

    /// The FastCGI stdout bytes: `Status: 200 OK`, headers, `Content-Length`, blank line, body.
    /// A 304 has no `Content-Length` (RFC 9110 allows only the length of the 200 it stands for).
    public func encoded() -> [UInt8] {
        if let encodedBytes { return encodedBytes }
        var head = "Status: \(status) \(Response.reason(status))\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if status != 304 { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        var out = Array(head.utf8)
        out.reserveCapacity(out.count + body.count)
        out += body
        return out
    }

    /// The reason phrase for the status codes this project uses.
    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 413: "Payload Too Large"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Status"
        }
    }
}
