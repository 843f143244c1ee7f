import Basics
import BazarCore
import CProcess
import FastCGI
import Foundation
import HTTPMessages
import Store
import SystemCalls

/// What the three main programs share: the command line, the server options, the serve loop.
public enum Launch {
    /// Flags every tier takes: `--socket PATH|HOST:PORT` (listen there instead of spawn-fcgi's
    /// fd 0), `--threads N` (worker threads, default `TierProgram.defaultThreads`) and
    /// `--internal-secret-file FILE` or `--internal-secret-fd N` (`InternalSecret`).
    public static let serverFlags = ["socket", "threads", InternalSecret.flag, InternalSecret.descriptorFlag]

    /// Parses the command line against `known` plus `serverFlags`, takes the instance lock
    /// (`InstanceLock`), makes the tier and serves it until SIGTERM; a store the disk has no
    /// room for yet (`DatabaseError.isStorageFailure`) is waited for while serving 503
    /// (`StoreWait`). `--help` (or `-h`) prints
    /// the usage to standard output and exits 0, and so does `--version` with the build. A bad command line or configuration exits 2
    /// with a message naming it; a second instance of a running replica exits 1. At once,
    /// the process becomes undumpable: the stack's other processes run as the same user, and
    /// none of them may read the secrets this one holds out of its memory or /proc.
    public static func serve(_ program: String, flags known: [String],
                             _ makeTier: @escaping @Sendable (Flags) throws -> TierProgram) -> Never {
        // A closed stderr costs log lines (Log counts them), never the process.
        signal(SIGPIPE, SIG_IGN)
        if bazar_forbid_inspection() != 0 {
            Log.warn("could not make the process undumpable", [("program", program), ("errno", "\(errno)")])
        }
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.contains(where: { $0 == "--help" || $0 == "-h" }) {
            try? Posix.writeAll(1, Array(usage(program, flags: known + serverFlags).utf8))
            exit(0)
        }
        if arguments.contains("--version") {
            try? Posix.writeAll(1, Array("\(program) (Bazar) \(ProcessMetrics.build)\n".utf8))
            exit(0)
        }
        do {
            let flags = try Flags(arguments, known: known + serverFlags)
            let socket = try flags.string("socket", default: "")
            let threads = try flags.int("threads", default: TierProgram.defaultThreads, in: 1...1024)
            if let lock = try InstanceLock.path(flags) { InstanceLock.hold(lock, program: program) }
            let serverOptions = { () throws -> ServerOptions in
                ServerOptions(listen: socket.isEmpty ? .inherited : .init(socket), threads: threads,
                              internalSecret: try InternalSecret.load(flags))
            }
            let tier: TierProgram
            do {
                tier = try makeTier(flags)
            } catch let error as DatabaseError where error.isStorageFailure {
                Log.error("the store cannot be opened; serving 503 and trying again every second",
                          [("program", program), ("error", "\(error)")])
                let wait = StoreWait()
                let waitOptions = try serverOptions()
                wait.retry(program, flags, makeTier)
                FastCGIServer.run(waitOptions, handler: wait.handle)
            }
            var options = try serverOptions()
            for extra in tier.extraSockets { options.add(.init(extra.path), threads: extra.threads) }
            Log.info(tier.startMessage)
            let handle = tier.metrics.observing(tier.handle)
            FastCGIServer.run(options) { request in RequestTrace.serving(request.traceID) { handle(request) } }
        } catch {
            Log.error("bad command line or configuration", [("program", program), ("error", "\(error)")])
            exit(2)
        }
    }

    /// The `--help` text: how the program is run and the flags it takes.
    static func usage(_ program: String, flags: [String]) -> String {
        """
        usage: \(program) [--FLAG VALUE]...
        A Bazar FastCGI responder; spawn-fcgi passes its listening socket as fd 0 unless --socket is given.
        Flags: \(flags.sorted().map { "--" + $0 }.joined(separator: " "))
        --version prints the program and how it was built.
        Exits 2 on a bad command line, 1 when another process already runs as the same replica.

        """
    }
}
