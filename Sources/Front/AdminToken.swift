import BazarCore
import Foundation

/// The admin bearer token, compared in constant time.
struct AdminToken: Sendable {
    private let token: [UInt8]

    /// `BAZAR_ADMIN_TOKEN` if set, else the first line of `source` (`--admin-token-fd` or
    /// `--admin-token-file`).
    init(environment: [String: String], source: SecretSource) throws {
        if let value = environment["BAZAR_ADMIN_TOKEN"], !value.isEmpty {
            token = Array(value.utf8)
        } else {
            token = Array(try source.firstLine().utf8)
        }
        guard !token.isEmpty else { throw CocoaError(.fileReadCorruptFile) }
    }

    /// Whether an `Authorization` header carries the token (`Bearer <token>`), in time that does
    /// not depend on where a wrong token differs.
    func admits(_ authorization: String?) -> Bool {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        let offered = Array(authorization.utf8.dropFirst(7))
        var difference = UInt8(offered.count == token.count ? 0 : 1)
        for index in 0..<token.count {
            difference |= token[index] ^ (index < offered.count ? offered[index] : 0)
        }
        return difference == 0
    }
}
