import BazarCore
import InternalHTTP

/// What the answer to a write call says about whether the write was applied.
public enum WriteAnswer: Sendable {
    /// The tier decided and said so (its own answer, error or not): pass it on.
    case decided(InternalResponse)
    /// Surely not applied: nothing reached the tier (nginx could not connect, or this process
    /// could not reach nginx), or a process it was not meant for refused it (`X-Bazar-Not-Sent`).
    case notApplied
    /// The request may have been applied: it was sent and no decision came back (a timeout, a
    /// closed connection, nginx's own 502/504, or the tier itself could not tell).
    case unknown

    /// Classifies one call's result. A tier's own answer carries `X-Upstream`; its 504 means it
    /// could not tell either.
    public init(_ result: Result<InternalResponse, InternalCallError>) {
        switch result {
        case .failure(let error):
            self = error.surelyNotApplied ? .notApplied : .unknown
        case .success(let answer) where answer.header("X-Upstream") != nil:
            self = answer.status == 504 ? .unknown : .decided(answer)
        case .success(let answer) where answer.header(WriteIdentity.notSentHeader) == "true":
            self = .notApplied
        case .success(let answer):
            self = [500, 502, 503, 504].contains(answer.status) ? .unknown : .decided(answer)
        }
    }
}

extension InternalResponse {
    /// Whether this is an answer to pass on: a replica's own (it carries `X-Upstream`), or
    /// nginx's that is not its failure to reach one (a 404 for an unknown path, say).
    public var isAnswer: Bool {
        header("X-Upstream") != nil || ![500, 502, 503, 504].contains(status)
    }
}

extension InternalClient {
    /// Sends a request and returns the answer or the error as a value.
    public func result(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = [],
                       timeout: Duration, resendable: Bool? = nil) -> Result<InternalResponse, InternalCallError> {
        Result { () throws(InternalCallError) in
            try send(method, path, headers: headers, body: body, timeout: timeout, resendable: resendable)
        }
    }
}
