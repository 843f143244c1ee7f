import Glibc
import Synchronization

/// An HTTP answer from nginx's internal listener.
public struct InternalResponse: Sendable {
    /// The HTTP status.
    public var status: Int
    /// Headers with lower-cased names.
    public var headers: [String: String]
    /// The body.
    public var body: [UInt8]

    /// A header by its lower-cased name.
    public func header(_ name: String) -> String? { headers[name] }
}

/// Why an internal call got no answer.
public enum InternalCallError: Error, Sendable, Equatable {
    /// The socket could not be reached (nginx down).
    case unreachable
    /// No complete answer within the timeout.
    case timeout
    /// The answer was not HTTP/1.1 as expected.
    case malformed
}

/// A small HTTP/1.1 client for the tiers' calls to each other through nginx's internal unix
/// socket, keeping connections alive in a pool. Blocking: it runs on the caller's worker thread.
public final class InternalClient: Sendable {
    private let socketPath: String
    private let idle = Mutex<[Int32]>([])
    private let poolLimit: Int

    /// A client for the nginx internal listener at `socketPath`.
    public init(socketPath: String, poolLimit: Int = 64) {
        self.socketPath = socketPath
        self.poolLimit = poolLimit
    }

    deinit {
        idle.withLock { for fd in $0 { close(fd) } }
    }

    /// Sends one request and waits for the whole answer. A request that fails on a kept
    /// connection before any answer byte arrives (nginx closed it while idle) is sent once more
    /// on a new connection.
    public func send(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = [],
                     timeout: Duration = .seconds(5)) throws(InternalCallError) -> InternalResponse {
        let request = Self.encode(method, path, headers, body)
        if let fd = idle.withLock({ $0.popLast() }) {
            switch exchange(fd, request, timeout) {
            case .answered(let response): return response
            case .failed(let error): throw error
            case .closedBeforeAnswer: break
            }
        }
        let fd = try connectSocket()
        switch exchange(fd, request, timeout) {
        case .answered(let response): return response
        case .failed(let error): throw error
        case .closedBeforeAnswer: throw .unreachable
        }
    }

    private enum Outcome {
        case answered(InternalResponse)
        case failed(InternalCallError)
        case closedBeforeAnswer
    }

    private func exchange(_ fd: Int32, _ request: [UInt8], _ timeout: Duration) -> Outcome {
        setTimeout(fd, timeout)
        guard writeAll(fd, request) else { close(fd); return .closedBeforeAnswer }
        var reader = ResponseReader(fd: fd)
        switch reader.read() {
        case .success(let (response, reusable)):
            if reusable { release(fd) } else { close(fd) }
            return .answered(response)
        case .failure(let error):
            close(fd)
            return reader.receivedAny || error != .unreachable ? .failed(error == .unreachable ? .malformed : error) : .closedBeforeAnswer
        }
    }

    private func release(_ fd: Int32) {
        let kept = idle.withLock { pool in
            guard pool.count < poolLimit else { return false }
            pool.append(fd)
            return true
        }
        if !kept { close(fd) }
    }

    private func connectSocket() throws(InternalCallError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .unreachable }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { close(fd); throw .unreachable }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { close(fd); throw .unreachable }
        return fd
    }

    private func setTimeout(_ fd: Int32, _ timeout: Duration) {
        let (seconds, attoseconds) = timeout.components
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return false }
                offset += written
            }
            return true
        }
    }

    private static func encode(_ method: String, _ path: String, _ headers: [(String, String)], _ body: [UInt8]) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: bazar\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }
}
