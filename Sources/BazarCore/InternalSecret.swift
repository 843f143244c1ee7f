import Basics
import Foundation

/// The deployment's internal secret: the tiers send it with every call to nginx's internal
/// listener, which refuses calls without it and passes it on to the tier it calls, which
/// treats a request as internal only if it carries it. It is never the admin token.
public enum InternalSecret {
    /// The flag naming the file that holds it.
    public static let flag = "internal-secret-file"
    /// The flag naming an inherited descriptor that holds it (it wins over the file).
    public static let descriptorFlag = "internal-secret-fd"
    /// The fewest characters a secret may have.
    static let minimumLength = 16

    /// The first line of the descriptor named by `--internal-secret-fd`, else of the file named
    /// by `--internal-secret-file`.
    public static func load(_ flags: Flags) throws -> String {
        let source = try SecretSource.from(flags, "internal-secret")
        let secret: String
        do {
            secret = try source.firstLine()
        } catch {
            throw FlagError("--\(flag): cannot read \(source)")
        }
        guard secret.count >= minimumLength, secret.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0.asciiValue! > 32 }) else {
            throw FlagError("--\(flag): \(source) must hold at least \(minimumLength) printable ASCII characters on its first line")
        }
        return secret
    }
}
