import Basics
import CFastCGI
import Foundation
import HTTPMessages
import Synchronization
import SystemCalls

/// How a responder listens and how many requests it serves at once.
public struct ServerOptions: Sendable {
    /// Where a listening socket comes from.
    public enum Listen: Sendable {
        /// spawn-fcgi's convention: the listening socket is file descriptor 0.
        case inherited
        /// A unix socket path the server creates itself, mode 0660 and owned by the group of
        /// its directory (so the directory's permissions decide who may connect).
        case path(String)
        /// A TCP address `HOST:PORT` (host an IP address of this machine). Only the addresses
        /// in `FCGI_WEB_SERVER_ADDRS` may connect (libfcgi checks it at each accept).
        case tcp(String)

        /// `HOST:PORT` (`HostPort`) listens on TCP, anything else is a path.
        public init(_ text: String) {
            self = HostPort(text) == nil ? .path(text) : .tcp(text)
        }
    }

    /// One listening socket and the worker threads that serve it.
    public struct Listener: Sendable {
        /// The socket.
        public var listen: Listen
        /// Worker threads; each serves one request (or one kept nginx connection) at a time.
        public var threads: Int
    }

    /// The sockets served. A second socket with threads of its own keeps a class of requests
    /// (the front's invalidations) from waiting behind requests that wait on other tiers.
    public var listeners: [Listener]
    /// Bodies longer than this are not read; the request is marked `bodyTooLarge`.
    public var maxBody: Int
    /// The deployment's internal secret: a request is internal only when nginx's internal
    /// listener marks it so (`BAZAR_LISTENER=internal`) and passes this secret (`BAZAR_SECRET`).
    public var internalSecret: String

    /// Options with one listener of `threads` worker threads (fd 0 by default) and 64 KiB bodies.
    public init(listen: Listen = .inherited, threads: Int, internalSecret: String, maxBody: Int = 64 * 1024) {
        self.listeners = [Listener(listen: listen, threads: max(1, threads))]
        self.internalSecret = internalSecret
        self.maxBody = maxBody
    }

    /// Adds a listener with its own threads.
    public mutating func add(_ listen: Listen, threads: Int) {
        listeners.append(Listener(listen: listen, threads: max(1, threads)))
    }
}

/// A multi-threaded FastCGI responder over libfcgi.
///
/// Every worker thread blocks in `FCGX_Accept_r` on the shared listening socket (Linux needs
/// no accept mutex). A thread serves a connection nginx keeps alive for as long as nginx keeps
/// it, except under pressure: when more than half of a socket's threads are busy and
/// connections wait in its accept queue, a thread closes its connection after the response
/// and takes the next waiting one, so those are served in turn and do not starve behind the
/// kept ones. SIGTERM and SIGINT are taken by a dedicated `sigwait` loop: the server stops
/// accepting, lets in-flight requests finish (up to `drainLimit`), and exits 0.
public enum FastCGIServer {
    /// The longest a stop waits for in-flight requests before exiting anyway.
    public static let drainLimit: Duration = .seconds(10)

    /// Serves `handler` forever (until SIGTERM/SIGINT). Call from the main thread.
    public static func run(_ options: ServerOptions, handler: @escaping @Sendable (Request) -> Response) -> Never {
        let stopSignals = blockStopSignals()
        guard FCGX_Init() == 0 else { fail("FCGX_Init failed") }
        signal(SIGPIPE, SIG_IGN)
        let state = ServerState()
        let listenFDs = options.listeners.map { listener in
            let listenFD = openListener(listener.listen)
            let load = ListenerLoad(threads: listener.threads)
            for index in 0..<listener.threads {
                let thread = Thread {
                    serveRequests(listenFD: listenFD, maxBody: options.maxBody, secret: Array(options.internalSecret.utf8), state: state, load: load, handler: handler)
                }
                thread.name = "fcgi-\(listenFD)-\(index)"
                thread.stackSize = 1 << 20
                thread.start()
            }
            return listenFD
        }
        waitForStop(stopSignals)
        state.stopping.store(true, ordering: .sequentiallyConsistent)
        for listenFD in listenFDs {
            do { try Posix.shutdown(listenFD) } catch { log(.warn, "stopping the listener: \(error)") }
        }
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

    /// The accept queue of a socket the server binds itself, as long as the kernel allows
    /// (`somaxconn` caps it): like spawn-fcgi's, so that a queue of waiting requests (the
    /// front's queue of misses) is bounded by time, not refused for room.
    private static let backlog: Int32 = 4096

    private static func openListener(_ listen: ServerOptions.Listen) -> Int32 {
        switch listen {
        case .inherited:
            return 0
        case .path(let path):
            do {
                try Posix.unlinkIfPresent(path)
                let fd = FCGX_OpenSocket(path, backlog)
                guard fd >= 0 else { fail("cannot listen on \(path)") }
                try Posix.adoptDirectoryGroup(path)
                try Posix.chmod(path, 0o660)
                return fd
            } catch {
                fail("cannot listen on \(path): \(error)")
            }
        case .tcp(let address):
            let fd = FCGX_OpenSocket(address, backlog)
            guard fd >= 0 else { fail("cannot listen on \(address)") }
            return fd
        }
    }

    private static func serveRequests(listenFD: Int32, maxBody: Int, secret: [UInt8], state: ServerState, load: ListenerLoad,
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
            load.busy.add(1, ordering: .relaxed)
            var request = readRequest(raw, maxBody: maxBody, internalSecret: secret)
            request.connectionsWaiting = Posix.hasPendingConnections(listenFD)
            if request.throughMissQueue { request.callerGone = Posix.peerClosed(raw.pointee.ipcFd) }
            let response = handler(request)
            let bytes = response.encoded()
            bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) {
                    _ = FCGX_PutStr($0.baseAddress, Int32(clamping: $0.count), raw.pointee.out)
                }
            }
            if state.stopping.load(ordering: .relaxed) || load.crowded(listenFD) { raw.pointee.keepConnection = 0 }
            FCGX_Finish_r(raw)
            load.busy.subtract(1, ordering: .relaxed)
            state.inFlight.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    private static func fail(_ message: String) -> Never {
        log(.error, message)
        exit(1)
    }

    /// A line of the process's log, its message marked as this module's.
    private static func log(_ level: Log.Level, _ message: String) {
        Log.write(level, "fastcgi: \(message)")
    }
}

/// What the worker threads and the stop sequence share.
private final class ServerState: Sendable {
    let inFlight = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)
}

/// How busy one listening socket's threads are.
private final class ListenerLoad: Sendable {
    let threads: Int
    let busy = Atomic<Int>(0)

    init(threads: Int) {
        self.threads = threads
    }

    /// More than half of the threads are busy and connections wait to be accepted.
    func crowded(_ listenFD: Int32) -> Bool {
        busy.load(ordering: .relaxed) > threads / 2 && Posix.hasPendingConnections(listenFD)
    }
}
