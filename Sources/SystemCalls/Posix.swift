import Glibc

/// A failed system call: which one, and the `errno` it left.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The call, e.g. `connect`.
    public let call: String
    /// The `errno` value.
    public let code: Int32

    /// Whether the call's `Deadline` passed before it could be done (`ETIME`, which no socket
    /// call returns by itself).
    public var timedOut: Bool { code == ETIME }

    public var description: String { "\(call): \(String(cString: strerror(code))) (errno \(code))" }
}

/// The POSIX calls the transports make, each wrapped once: a result of -1 becomes a thrown
/// `SystemError` with `errno`, and a call interrupted by a signal (`EINTR`) is made again.
public enum Posix {
    /// Runs a call that returns -1 and sets `errno` on failure, retrying on `EINTR`.
    @inline(__always)
    static func checked<T: FixedWidthInteger>(_ call: String, _ body: () -> T) throws(SystemError) -> T {
        while true {
            let result = body()
            if result != -1 { return result }
            let code = errno
            if code != EINTR { throw SystemError(call: call, code: code) }
        }
    }

    /// A new stream socket of `family`, closed on exec.
    public static func socket(family: Int32) throws(SystemError) -> Int32 {
        try checked("socket") { Glibc.socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
    }

    /// Connects `fd` to the unix socket at `path`, waiting for room in a full accept queue
    /// until `deadline` at most.
    public static func connect(_ fd: Int32, unixPath path: String, by deadline: Deadline) throws(SystemError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SystemError(call: "connect", code: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        try setSendTimeout(fd, deadline)
        _ = try checked("connect") {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        }
    }

    /// A new TCP connection to `host:port` (a name is resolved, IPv4 first), made by
    /// `deadline` (a host cut off by a partition fails here rather than after the kernel's
    /// minutes of SYN retries), closed on exec, with Nagle's delay off.
    public static func connectTCP(host: String, port: UInt16, by deadline: Deadline) throws(SystemError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw SystemError(call: "getaddrinfo", code: EHOSTUNREACH)
        }
        defer { freeaddrinfo(list) }
        var lastError = SystemError(call: "connect", code: EHOSTUNREACH)
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let entry = candidate {
            candidate = entry.pointee.ai_next
            do throws(SystemError) {
                return try connectAddress(entry.pointee, by: deadline)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    private static func connectAddress(_ entry: addrinfo, by deadline: Deadline) throws(SystemError) -> Int32 {
        let fd = try checked("socket") {
            Glibc.socket(entry.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        }
        do throws(SystemError) {
            if Glibc.connect(fd, entry.ai_addr, entry.ai_addrlen) != 0 {
                guard errno == EINPROGRESS else { throw SystemError(call: "connect", code: errno) }
                try wait(fd, for: POLLOUT, by: deadline, call: "connect")
                var failure: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                _ = try checked("getsockopt") { getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length) }
                guard failure == 0 else { throw SystemError(call: "connect", code: failure) }
            }
            let flags = try checked("fcntl") { fcntl(fd, F_GETFL) }
            _ = try checked("fcntl") { fcntl(fd, F_SETFL, flags & ~Int32(O_NONBLOCK)) }
            var on: Int32 = 1
            _ = try checked("setsockopt") { setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size)) }
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    /// Sends all of `bytes` (several calls if need be) by `deadline`, without raising SIGPIPE.
    public static func sendAll(_ fd: Int32, _ bytes: [UInt8], by deadline: Deadline) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            try wait(fd, for: POLLOUT, by: deadline, call: "send")
            let start = offset
            do {
                offset += try checked("send") {
                    bytes.withUnsafeBytes { raw in
                        Glibc.send(fd, raw.baseAddress! + start, raw.count - start, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                    }
                }
            } catch where error.code == EAGAIN || error.code == EWOULDBLOCK {}
        }
    }

    /// Writes all of `bytes` to a descriptor (several calls if need be). A failure (`ENOSPC` on
    /// a full disk, `EPIPE`, `EAGAIN`) is thrown, never trapped on: unlike `FileHandle.write`.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let start = offset
            offset += try checked("write") {
                bytes.withUnsafeBytes { raw in Glibc.write(fd, raw.baseAddress! + start, raw.count - start) }
            }
        }
    }

    /// Opens (creating, mode 0600) `path` and takes an exclusive `flock` on it without
    /// waiting; returns the descriptor, which holds the lock until the process ends (the kernel
    /// releases it however the process ends). Throws `EWOULDBLOCK` when another process holds it.
    public static func lockExclusively(_ path: String) throws(SystemError) -> Int32 {
        let fd = try checked("open") { open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600) }
        do throws(SystemError) {
            _ = try checked("flock") { flock(fd, LOCK_EX | LOCK_NB) }
            return fd
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    /// Receives up to `buffer.count` bytes, waiting for the first of them until `deadline`; 0 at
    /// the end of the stream.
    public static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, by deadline: Deadline) throws(SystemError) -> Int {
        while true {
            try wait(fd, for: POLLIN, by: deadline, call: "recv")
            do {
                return try checked("recv") { recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT)) }
            } catch where error.code == EAGAIN || error.code == EWOULDBLOCK {}
        }
    }

    /// Waits until `fd` is ready for `events` (or has an error or hang-up to report, which the
    /// next call returns); throws `ETIME` once `deadline` has passed.
    private static func wait(_ fd: Int32, for events: Int32, by deadline: Deadline, call: String) throws(SystemError) {
        var entry = pollfd(fd: fd, events: Int16(events), revents: 0)
        while true {
            let milliseconds = deadline.pollMilliseconds
            guard milliseconds > 0 else { throw SystemError(call: call, code: ETIME) }
            if try checked("poll", { poll(&entry, 1, milliseconds) }) == 1 { return }
        }
    }

    /// Bounds a blocking call that the kernel times with `SO_SNDTIMEO` (a unix `connect`) by
    /// `deadline`; throws `ETIME` once it has passed (a zero timeout would mean none).
    private static func setSendTimeout(_ fd: Int32, _ deadline: Deadline) throws(SystemError) {
        let (seconds, attoseconds) = deadline.remaining.components
        guard seconds > 0 || attoseconds >= 1_000_000_000_000 else { throw SystemError(call: "connect", code: ETIME) }
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        _ = try checked("setsockopt") { setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size)) }
    }

    /// Whether a kept-alive connection is still open with nothing waiting to be read: the
    /// peer has not closed it (end of stream) and sent nothing unasked.
    public static func isOpenAndQuiet(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        do {
            _ = try checked("recv") { recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) }
            return false
        } catch {
            return error.code == EAGAIN || error.code == EWOULDBLOCK
        }
    }

    /// Whether connections wait in a listening socket's accept queue (a non-blocking `poll`).
    public static func hasPendingConnections(_ listenFD: Int32) -> Bool {
        var entry = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 1 && entry.revents & Int16(POLLIN) != 0
    }

    /// Whether the peer of a connected socket has closed it or shut its side down (a
    /// non-blocking `poll`): a caller that gave up.
    public static func peerClosed(_ fd: Int32) -> Bool {
        let hangUp: Int16 = 0x2000   // POLLRDHUP, which Glibc's module does not export (_GNU_SOURCE)
        var entry = pollfd(fd: fd, events: hangUp, revents: 0)
        return poll(&entry, 1, 0) == 1 && entry.revents & (hangUp | Int16(POLLHUP | POLLERR)) != 0
    }

    /// Closes a descriptor. Not retried on `EINTR`: on Linux the descriptor is released anyway.
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Closes a socket at once with a reset, discarding whatever it has not sent yet. For a
    /// request given up on: closed the orderly way, the kernel would go on sending its unsent
    /// bytes (to a host cut off, until the link heals), and a write the caller already settled
    /// or reported could still arrive and be applied.
    public static func abort(_ fd: Int32) {
        var now = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, socklen_t(MemoryLayout<linger>.size))
        _ = Glibc.close(fd)
    }

    /// Shuts both directions of a socket down (wakes threads blocked in `accept`).
    public static func shutdown(_ fd: Int32) throws(SystemError) {
        _ = try checked("shutdown") { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// Removes a file; a file that does not exist is not an error.
    public static func unlinkIfPresent(_ path: String) throws(SystemError) {
        do {
            _ = try checked("unlink") { Glibc.unlink(path) }
        } catch where error.code == ENOENT {}
    }

    /// Sets a file's permission bits.
    public static func chmod(_ path: String, _ mode: mode_t) throws(SystemError) {
        _ = try checked("chmod") { Glibc.chmod(path, mode) }
    }

    /// The bytes an unprivileged writer may still use on the filesystem that holds `path`
    /// (`statvfs`: `f_bavail` blocks of `f_frsize` bytes).
    public static func freeBytes(onFilesystemOf path: String) throws(SystemError) -> Int64 {
        var info = statvfs()
        _ = try checked("statvfs") { () -> Int32 in statvfs(path, &info) }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    /// Gives a file the group of the directory it is in (its owner stays).
    public static func adoptDirectoryGroup(_ path: String) throws(SystemError) {
        let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        var directory = Glibc.stat()
        _ = try checked("stat") { () -> Int32 in stat(parent.isEmpty ? "/" : parent, &directory) }
        _ = try checked("chown") { Glibc.chown(path, uid_t.max, directory.st_gid) }
    }
}

extension Posix {
    /// Every IPv4 address `host` resolves to, dotted, sorted and without repeats (none when it
    /// does not resolve).
    public static func ipv4Addresses(_ host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var addresses: Set<[UInt8]> = []
        var entry = list
        while let current = entry {
            entry = current.pointee.ai_next
            guard let address = current.pointee.ai_addr, current.pointee.ai_family == AF_INET else { continue }
            let bytes = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { ipv4 in
                withUnsafeBytes(of: ipv4.pointee.sin_addr.s_addr) { Array($0) }
            }
            addresses.insert(bytes)
        }
        return addresses.sorted { $0.lexicographicallyPrecedes($1) }.map { $0.map(String.init).joined(separator: ".") }
    }
}
