import Basics
import InternalHTTP
import Synchronization

/// One process's calls to the catalog primary: each goes where `PrimaryRouting` says (the
/// replica last seen answering as the primary, else nginx's `/catalog-primary/`), and once more,
/// within the same deadline, when a replica refused it having done nothing.
public final class PrimaryCalls: Sendable {
    /// The client of nginx's internal listener the calls go through.
    public let client: InternalClient
    private let routing = Mutex(PrimaryRouting())

    /// Calls through `client`, knowing no primary yet.
    public init(_ client: InternalClient) {
        self.client = client
    }

    /// Sends `method` to the primary's `route` (e.g. `/take/3`) and returns the answer or the
    /// error as a value; `timeout` is the deadline of the whole call, a second try included.
    public func result(_ method: String, _ route: String, headers: [(String, String)] = [], body: [UInt8] = [],
                       timeout: Duration, resendable: Bool? = nil) -> Result<InternalResponse, InternalCallError> {
        let start = Monotonic.now()
        let first = routing.withLock { $0.prefix }
        let result = client.result(method, first + route, headers: headers, body: body, timeout: timeout, resendable: resendable)
        let left = timeout - .nanoseconds(Monotonic.now() - start)
        guard let again = routing.withLock({ $0.note(result, sentTo: first) }), left > .zero else { return result }
        let second = client.result(method, again + route, headers: headers, body: body, timeout: left, resendable: resendable)
        _ = routing.withLock { $0.note(second, sentTo: again) }
        return second
    }

    /// `result`'s answer, or its error thrown.
    public func send(_ method: String, _ route: String, headers: [(String, String)] = [], body: [UInt8] = [],
                     timeout: Duration, resendable: Bool? = nil) throws(InternalCallError) -> InternalResponse {
        try result(method, route, headers: headers, body: body, timeout: timeout, resendable: resendable).get()
    }
}
