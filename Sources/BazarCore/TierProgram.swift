import Basics
import HTTPMessages

/// A tier as its main program serves it: the handler for every request, and the sockets it
/// listens on besides its main one (each with threads of its own).
public struct TierProgram: Sendable {
    /// The worker threads of a tier's main socket when `--threads` does not say.
    public static let defaultThreads = 64

    /// A socket of the tier's own and the worker threads that serve it.
    public struct ExtraSocket: Sendable {
        /// The unix socket path, or `HOST:PORT` for TCP.
        public var path: String
        /// Its worker threads.
        public var threads: Int

        /// A socket and its threads.
        public init(path: String, threads: Int) {
            self.path = path
            self.threads = threads
        }
    }

    /// Answers one request.
    public let handle: @Sendable (Request) -> Response
    /// Sockets besides the main one.
    public let extraSockets: [ExtraSocket]
    /// The line logged once the program is configured.
    public let startMessage: String
    /// Counts and times every request `handle` answers.
    public let metrics: RequestMetrics

    /// A program from its handler, extra sockets, start message and request metrics.
    public init(extraSockets: [ExtraSocket] = [], startMessage: String, metrics: RequestMetrics,
                handle: @escaping @Sendable (Request) -> Response) {
        self.handle = handle
        self.metrics = metrics
        self.extraSockets = extraSockets
        self.startMessage = startMessage
    }
}
