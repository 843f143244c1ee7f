/// The name every process of one deployment shares without being told: derived from the
/// internal secret (one per deployment, given to every process), so a store can record which
/// deployment it belongs to without holding the secret itself.
public enum Deployment {
    /// A 64-bit FNV-1a digest of the secret, in hex. Not a secret and not a MAC: it only tells
    /// deployments apart (nginx checks the secret itself, so a colliding string grants nothing).
    public static func id(secret: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "bazar-deployment:\(secret)".utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
