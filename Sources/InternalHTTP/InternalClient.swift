import Glibc
import HTTPMessages
import Synchronization
import SystemCalls

/// An HTTP answer from nginx's internal listener.
public struct InternalResponse: Sendable {
    /// The HTTP status.
    public var status: Int
    /// The headers, by lower-cased name.
    private var headers: [String: String]
    /// The body.
    public var body: [UInt8]

    /// An answer from its parts; header names may be spelled in any case.
    public init(status: Int, headers: [String: String], body: [UInt8]) {
        self.status = status
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }) { $1 }
        self.body = body
    }

    /// An answer whose header names the parser already lower-cased.
    init(status: Int, lowercasedHeaders: [String: String], body: [UInt8]) {
        self.status = status
        self.headers = lowercasedHeaders
        self.body = body
    }

    /// A header by name, ignoring case (`X-Upstream` or `x-upstream`).
    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// Why an internal call got no answer.
public enum InternalCallError: Error, Sendable, Equatable {
    /// No connection could be made (nginx down): the request was not sent.
    case unreachable
    /// The request was sent, but no complete answer came by the call's deadline: it may have been applied.
    case timeout
    /// The request was sent and the connection closed with no answer: it may have been applied.
    case noAnswer
    /// The answer was not HTTP/1.1 as expected.
    case malformed

    /// Whether the request surely had no effect (it never left this process).
    public var surelyNotApplied: Bool { self == .unreachable }
}

/// Where nginx's internal listener is: a unix socket path, or `HOST:PORT` across hosts.
public enum InternalAddress: Sendable, Equatable {
    /// A unix socket.
    case unix(path: String)
    /// A TCP address; the host may be a name, resolved at each new connection.
    case tcp(host: String, port: UInt16)

    /// `HOST:PORT` (`HostPort`) or else a socket path.
    public init(_ text: String) {
        if let address = HostPort(text) {
            self = .tcp(host: address.host, port: address.port)
        } else {
            self = .unix(path: text)
        }
    }
}

/// A small HTTP/1.1 client for the tiers' calls to each other through nginx's internal
/// listener, keeping connections alive in a pool. Blocking: it runs on the caller's worker thread.
/// Every request carries the deployment's internal secret (`X-Bazar-Secret`), without which
/// nginx's internal listener refuses it, and the id of the request it is made for
/// (`X-Request-Id`, from `RequestTrace`), which the callee's log lines then name.
///
/// A request is sent again only when that is safe: a GET or HEAD, or a request the caller
/// marks `resendable` (the receiver dedupes it). Any other request that got no answer throws
/// `noAnswer` or `timeout`, since the receiver may have applied it. To keep such a request off
/// a connection that nginx closed while it sat idle, a kept connection is checked before use.
///
/// A call's timeout is a deadline for the whole call, set when it starts: the connection, the
/// request's writes, every read of the answer and a resend all fit in it, however slowly the
/// peer takes or gives the bytes.
public final class InternalClient: Sendable {
    /// How long a new connection may take (a partitioned host never answers a SYN).
    static let connectTimeout: Duration = .milliseconds(500)

    private let address: InternalAddress
    private let secret: String
    private let idle = Mutex<[Int32]>([])
    private let poolLimit: Int

    /// A client for the nginx internal listener at `address`, sending `secret` with each request.
    public init(_ address: InternalAddress, secret: String, poolLimit: Int = 64) {
        self.address = address
        self.secret = secret
        self.poolLimit = poolLimit
    }

    deinit {
        idle.withLock { for fd in $0 { Posix.close(fd) } }
    }

    /// Sends one request and waits for the whole answer, all within `timeout`. `resendable`
    /// (default: GET and HEAD only) allows one more try on a new connection, within the same
    /// time, when a kept one fails before any answer.
    public func send(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = [],
                     timeout: Duration = .seconds(5), resendable: Bool? = nil) throws(InternalCallError) -> InternalResponse {
        let deadline = Deadline(after: timeout)
        var headers = headers + [("X-Bazar-Secret", secret)]
        if !RequestTrace.id.isEmpty { headers.append(("X-Request-Id", RequestTrace.id)) }
        let request = Self.encode(method, path, headers, body)
        if let fd = keptConnection() {
            switch exchange(fd, request, deadline) {
            case .answered(let response): return response
            case .failed(let error): throw error
            case .closedBeforeAnswer:
                guard resendable ?? ["GET", "HEAD"].contains(method) else { throw .noAnswer }
            }
        }
        let fd = try connectSocket(by: deadline)
        switch exchange(fd, request, deadline) {
        case .answered(let response): return response
        case .failed(let error): throw error
        case .closedBeforeAnswer: throw .noAnswer
        }
    }

    private enum Outcome {
        case answered(InternalResponse)
        case failed(InternalCallError)
        case closedBeforeAnswer
    }

    /// Sends `request` on `fd` and reads the answer. A connection that ends without an answer
    /// is reset (`Posix.abort`): what the kernel has not sent of the request yet is dropped, so
    /// a request given up on cannot arrive later, after its caller settled it.
    private func exchange(_ fd: Int32, _ request: [UInt8], _ deadline: Deadline) -> Outcome {
        do {
            try Posix.sendAll(fd, request, by: deadline)
        } catch {
            Posix.abort(fd)
            return error.timedOut ? .failed(.timeout) : .closedBeforeAnswer
        }
        var reader = ResponseReader(fd: fd, deadline: deadline)
        switch reader.read() {
        case .success(let (response, reusable)):
            if reusable { release(fd) } else { Posix.close(fd) }
            return .answered(response)
        case .failure(let error):
            Posix.abort(fd)
            return error == .noAnswer ? .closedBeforeAnswer : .failed(error)
        }
    }

    /// A pooled connection that the peer has not closed, if any (closed ones are dropped).
    private func keptConnection() -> Int32? {
        while let fd = idle.withLock({ $0.popLast() }) {
            if Posix.isOpenAndQuiet(fd) { return fd }
            Posix.close(fd)
        }
        return nil
    }

    private func release(_ fd: Int32) {
        let kept = idle.withLock { pool in
            guard pool.count < poolLimit else { return false }
            pool.append(fd)
            return true
        }
        if !kept { Posix.close(fd) }
    }

    /// A new connection, made by `deadline` and within `connectTimeout` (a TCP peer that does not
    /// answer is given up on early); the rest of the call's time is left for the exchange.
    private func connectSocket(by deadline: Deadline) throws(InternalCallError) -> Int32 {
        do {
            switch address {
            case .unix(let path):
                let fd = try Posix.socket(family: AF_UNIX)
                do {
                    try Posix.connect(fd, unixPath: path, by: deadline)
                } catch {
                    Posix.close(fd)
                    throw error
                }
                return fd
            case .tcp(let host, let port):
                return try Posix.connectTCP(host: host, port: port, by: min(deadline, Deadline(after: Self.connectTimeout)))
            }
        } catch {
            throw .unreachable
        }
    }

    private static func encode(_ method: String, _ path: String, _ headers: [(String, String)], _ body: [UInt8]) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: bazar\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }
}
