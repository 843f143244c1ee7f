import CFastCGI
import Foundation
import Synchronization

/// How a responder listens and how many requests it serves at once.
public struct ServerOptions: Sendable {
    /// Where the listening socket comes from.
    public enum Listen: Sendable {
        /// spawn-fcgi's convention: the listening socket is file descriptor 0.
        case inherited
        /// A unix socket path the server creates itself (tests, `cgi-fcgi`).
        case path(String)
    }

    /// The listening socket.
    public var listen: Listen
    /// Worker threads; each serves one request (or one kept nginx connection) at a time.
    public var threads: Int
    /// Bodies longer than this are not read; the request is marked `bodyTooLarge`.
    public var maxBody: Int

    /// Options with the project's defaults: fd 0, 32 threads, 64 KiB bodies.
    public init(listen: Listen = .inherited, threads: Int = 32, maxBody: Int = 64 * 1024) {
        self.listen = listen
        self.threads = max(1, threads)
        self.maxBody = maxBody
    }
}

/// A multi-threaded FastCGI responder over libfcgi.
///
/// Every worker thread blocks in `FCGX_Accept_r` on the shared listening socket (Linux needs
/// no accept mutex). SIGTERM and SIGINT are taken by a dedicated `sigwait` loop: the server
/// stops accepting, lets in-flight requests finish (up to `drainLimit`), and exits 0.
public enum FastCGIServer {
    /// The longest a stop waits for in-flight requests before exiting anyway.
    public static let drainLimit: Duration = .seconds(10)

    /// Serves `handler` forever (until SIGTERM/SIGINT). Call from the main thread.
    public static func run(_ options: ServerOptions, handler: @escaping @Sendable (Request) -> Response) -> Never {
        let stopSignals = blockStopSignals()
        guard FCGX_Init() == 0 else { fail("FCGX_Init failed") }
        signal(SIGPIPE, SIG_IGN)
        let listenFD = openListener(options.listen)
        let state = ServerState()
        for index in 0..<options.threads {
            let thread = Thread {
                serveRequests(listenFD: listenFD, maxBody: options.maxBody, state: state, handler: handler)
            }
            thread.name = "fcgi-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
        waitForStop(stopSignals)
        state.stopping.store(true, ordering: .sequentiallyConsistent)
        shutdown(listenFD, Int32(SHUT_RDWR))
        let deadline = ContinuousClock.now + drainLimit
        while state.inFlight.load(ordering: .sequentiallyConsistent) > 0 && ContinuousClock.now < deadline {
            usleep(2_000)
        }
        fflush(nil)
        _exit(0)
    }

    private static func blockStopSignals() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        return set
    }

    private static func waitForStop(_ set: sigset_t) {
        var set = set
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
    }

    private static func openListener(_ listen: ServerOptions.Listen) -> Int32 {
        switch listen {
        case .inherited:
            return 0
        case .path(let path):
            unlink(path)
            let fd = FCGX_OpenSocket(path, 1024)
            guard fd >= 0 else { fail("cannot listen on \(path)") }
            return fd
        }
    }

    private static func serveRequests(listenFD: Int32, maxBody: Int, state: ServerState,
                                      handler: @Sendable (Request) -> Response) {
        // libfcgi's streams point back into the request: it must never move.
        let raw = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        FCGX_InitRequest(raw, listenFD, 0)
        while true {
            guard FCGX_Accept_r(raw) >= 0 else {
                if state.stopping.load(ordering: .relaxed) { return }
                usleep(10_000)
                continue
            }
            state.inFlight.add(1, ordering: .sequentiallyConsistent)
            let response = handler(readRequest(raw, maxBody: maxBody))
            let bytes = response.encoded()
            bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) {
                    _ = FCGX_PutStr($0.baseAddress, Int32(clamping: $0.count), raw.pointee.out)
                }
            }
            if state.stopping.load(ordering: .relaxed) { raw.pointee.keepConnection = 0 }
            FCGX_Finish_r(raw)
            state.inFlight.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    private static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("fastcgi: \(message)\n".utf8))
        exit(1)
    }
}

/// What the worker threads and the stop sequence share.
private final class ServerState: Sendable {
    let inFlight = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)
}
