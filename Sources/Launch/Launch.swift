import BazarCore
import FastCGI
import Foundation
import HTTPMessages

/// What the three main programs share: the command line, the server options, the serve loop.
public enum Launch {
    /// Flags every tier takes: `--socket PATH|HOST:PORT` (listen there instead of spawn-fcgi's
    /// fd 0), `--threads N` (worker threads, default `TierProgram.defaultThreads`) and
    /// `--internal-secret-file FILE` (`InternalSecret`).
    public static let serverFlags = ["socket", "threads", InternalSecret.flag]

    /// Parses the command line against `known` plus `serverFlags`, makes the tier and serves it
    /// until SIGTERM. A bad command line or configuration exits 2 with a message naming it.
    public static func serve(_ program: String, flags known: [String],
                             _ makeTier: (Flags) throws -> TierProgram) -> Never {
        do {
            let flags = try Flags(Array(CommandLine.arguments.dropFirst()), known: known + serverFlags)
            let socket = try flags.string("socket", default: "")
            let threads = try flags.int("threads", default: TierProgram.defaultThreads, in: 1...1024)
            let tier = try makeTier(flags)
            var options = ServerOptions(listen: socket.isEmpty ? .inherited : .init(socket), threads: threads,
                                        internalSecret: try InternalSecret.load(flags))
            for extra in tier.extraSockets { options.add(.init(extra.path), threads: extra.threads) }
            Log.info(tier.startMessage)
            let handle = tier.metrics.observing(tier.handle)
            FastCGIServer.run(options) { request in RequestTrace.serving(request.traceID) { handle(request) } }
        } catch {
            Log.error("bad command line or configuration", [("program", program), ("error", "\(error)")])
            exit(2)
        }
    }
}
