import BazarCore
import CProcess
import FastCGI
import Foundation

/// What the three main programs share: the command line, the server options, the serve loop.
public enum Launch {
    /// Flags every tier takes: `--socket PATH|HOST:PORT` (listen there instead of spawn-fcgi's
    /// fd 0), `--threads N` (worker threads, default `TierProgram.defaultThreads`) and
    /// `--internal-secret-file FILE` or `--internal-secret-fd N` (`InternalSecret`).
    public static let serverFlags = ["socket", "threads", InternalSecret.flag, InternalSecret.descriptorFlag]

    /// Parses the command line against `known` plus `serverFlags`, makes the tier and serves it
    /// until SIGTERM. A bad command line or configuration exits 2 with a message naming it.
    /// First of all the process becomes undumpable: the stack's other processes run as the same
    /// user, and none of them may read the secrets this one holds out of its memory or /proc.
    public static func serve(_ program: String, flags known: [String],
                             _ makeTier: (Flags) throws -> TierProgram) -> Never {
        if bazar_forbid_inspection() != 0 {
            Log.warn("could not make the process undumpable", [("program", program), ("errno", "\(errno)")])
        }
        do {
            let flags = try Flags(Array(CommandLine.arguments.dropFirst()), known: known + serverFlags)
            let socket = try flags.string("socket", default: "")
            let threads = try flags.int("threads", default: TierProgram.defaultThreads, in: 1...1024)
            let tier = try makeTier(flags)
            var options = ServerOptions(listen: socket.isEmpty ? .inherited : .init(socket), threads: threads,
                                        internalSecret: try InternalSecret.load(flags))
            for extra in tier.extraSockets { options.add(.init(extra.path), threads: extra.threads) }
            Log.info(tier.startMessage)
            FastCGIServer.run(options, handler: tier.metrics.observing(tier.handle))
        } catch {
            Log.error("bad command line or configuration", [("program", program), ("error", "\(error)")])
            exit(2)
        }
    }
}
