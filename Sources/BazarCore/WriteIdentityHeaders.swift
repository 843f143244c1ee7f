import Foundation
import HTTPMessages

extension WriteIdentity {
    /// Which of a write's identity headers a route needs.
    public enum Needed: Sendable {
        /// The key; a missing attempt is the key.
        case key
        /// The key and the attempt.
        case keyAndAttempt
        /// Neither: a missing key is a new one (a write under it cannot be settled), a missing
        /// attempt is the key.
        case nothing
    }

    /// The key and attempt `request` names in `X-Bazar-Key` and `X-Bazar-Attempt` (an empty
    /// header names nothing): 400 naming the first header that `needed` asks for and is missing.
    public static func decode(_ request: Request, needing needed: Needed) throws(APIError) -> (key: String, attempt: String) {
        let key = try header(keyHeader, of: request, needed: needed != .nothing) ?? UUID().uuidString.lowercased()
        return (key, try header(attemptHeader, of: request, needed: needed == .keyAndAttempt) ?? key)
    }

    /// The value of header `name`, nil when missing or empty: 400 then if it is `needed`.
    private static func header(_ name: String, of request: Request, needed: Bool) throws(APIError) -> String? {
        guard let value = request.header(name), !value.isEmpty else {
            if needed { throw .badRequest("\(name) is required.") }
            return nil
        }
        return value
    }
}
