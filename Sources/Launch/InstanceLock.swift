import Basics
import BazarCore
import Foundation
import SystemCalls

/// The lock that makes a process the one instance of its role: an exclusive `flock` on a file
/// beside the role's data (`--db` + `.lock`) or, for a tier without data (the front), beside
/// its sockets (`DIR/NAME.lock`, DIR the directory of its first unix socket). Taken before the
/// program opens its store or serves, and held until it ends (the kernel drops it however it
/// ends), so a second process started as the same replica exits at once instead of acting
/// beside the first, whatever happened to pid files.
enum InstanceLock {
    /// The lock file for a command line; nil for a program with neither a database nor a unix
    /// socket of its own (one front per container, on TCP).
    static func path(_ flags: Flags) throws -> String? {
        let database = try flags.string("db", default: "")
        if !database.isEmpty { return database + ".lock" }
        let name = try flags.string("name", default: "")
        for flag in ["invalidation-socket", "writes-socket", "socket"] {
            let socket = try flags.string(flag, default: "")
            guard !socket.isEmpty, HostPort(socket) == nil, let slash = socket.lastIndex(of: "/") else { continue }
            return socket[..<slash] + "/" + (name.isEmpty ? "front" : name) + ".lock"
        }
        return nil
    }

    /// Takes the lock at `path` for the rest of the process, or exits 1 with a log line that
    /// names the file: when another process holds it (a second instance of a running replica),
    /// or when it cannot be opened (no lock, no start). A directory that does not exist holds
    /// no data and no lock: the program goes on, to fail on that directory with its own
    /// message (after the flags are checked).
    static func hold(_ path: String, program: String) {
        do {
            _ = try Posix.lockExclusively(path)
        } catch where error.code == ENOENT {
            return
        } catch where error.code == EWOULDBLOCK {
            Log.error("another process already runs as this replica (it holds the instance lock); exiting",
                      [("program", program), ("lock", path)])
            exit(1)
        } catch {
            Log.error("cannot take the instance lock; exiting", [("program", program), ("lock", path), ("error", "\(error)")])
            exit(1)
        }
    }
}
