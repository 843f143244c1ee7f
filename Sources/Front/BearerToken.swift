import Basics
import BazarCore
import Foundation

/// A bearer token (the admin token, the metrics token), compared in constant time.
struct BearerToken: Sendable {
    private let token: [UInt8]

    /// `environment[variable]` if set, else the first line of `source` (`--NAME-fd` or
    /// `--NAME-file`).
    init(environment: [String: String], variable: String, source: SecretSource) throws {
        if let value = environment[variable], !value.isEmpty {
            token = Array(value.utf8)
        } else {
            token = Array(try source.firstLine().utf8)
        }
        guard !token.isEmpty else { throw CocoaError(.fileReadCorruptFile) }
    }

    /// The token of `environment[variable]`, `--NAME-fd` or `--NAME-file`; nil when none of
    /// them is given (no such token).
    static func optional(environment: [String: String], variable: String, flags: Flags, name: String) throws -> BearerToken? {
        let source = try SecretSource.from(flags, name, defaultFile: "")
        guard environment[variable].map({ !$0.isEmpty }) == true || source != .file("") else { return nil }
        return try BearerToken(environment: environment, variable: variable, source: source)
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
