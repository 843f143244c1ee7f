import Foundation

/// A bearer token (the admin token, the metrics token), compared in constant time.
struct BearerToken: Sendable {
    private let token: [UInt8]

    /// `environment[variable]` if set, else the first line of `file`.
    init(environment: [String: String], variable: String, file: String) throws {
        if let value = environment[variable], !value.isEmpty {
            token = Array(value.utf8)
        } else {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            token = Array(text.split(whereSeparator: \.isNewline).first.map(String.init)?.utf8 ?? "".utf8)
        }
        guard !token.isEmpty else { throw CocoaError(.fileReadCorruptFile) }
    }

    /// Like `init`, but nil when neither the variable nor `file` is set (no such token).
    static func optional(environment: [String: String], variable: String, file: String) throws -> BearerToken? {
        guard environment[variable].map({ !$0.isEmpty }) == true || !file.isEmpty else { return nil }
        return try BearerToken(environment: environment, variable: variable, file: file)
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
