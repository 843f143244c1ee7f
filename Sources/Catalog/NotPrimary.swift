import BazarCore
import TierCalls

extension APIError {
    /// A replica's refusal of a request for a role it does not hold: 503 `not_primary`, surely
    /// not applied (`X-Bazar-Not-Sent`), naming the primary of the term it knows as a hint for
    /// callers (`PrimaryRouting`) unless that is the refusing replica itself. It carries no
    /// `X-Upstream`, so nginx passes the request to the other replica.
    static func notPrimary(_ message: String, primary: String, refusedBy name: String) -> APIError {
        let hint = primary.isEmpty || primary == name ? [] : [(PrimaryRouting.hintHeader, primary)]
        return APIError(status: 503, code: "not_primary", message: message, headers: [(WriteIdentity.notSentHeader, "true")] + hint)
    }
}
