import Basics
import Foundation

/// Where a tier reads a secret: a file it opens itself, or a descriptor its starter opened for it
/// (bazarctl hands secrets over that way, so that their files stay unreadable by the stack's user).
public enum SecretSource: Sendable, Equatable, CustomStringConvertible {
    case file(String)
    case descriptor(Int32)

    /// `--NAME-fd N` if given, else `--NAME-file FILE` (required when there is no `defaultFile`).
    public static func from(_ flags: Flags, _ name: String, defaultFile: String? = nil) throws(FlagError) -> SecretSource {
        let descriptor = try flags.int("\(name)-fd", default: -1, in: 0...65_535)
        if descriptor >= 0 { return .descriptor(Int32(descriptor)) }
        return .file(try flags.string("\(name)-file", default: defaultFile))
    }

    /// The first line of the secret ("" when it is empty). A descriptor is read from its start
    /// (pread) and stays open, so every reader in the process sees the whole secret.
    public func firstLine() throws -> String {
        let text: String
        switch self {
        case .file(let path):
            text = try String(contentsOfFile: path, encoding: .utf8)
        case .descriptor(let fd):
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            guard count >= 0 else { throw CocoaError(.fileReadUnknown) }
            text = String(decoding: buffer.prefix(count), as: UTF8.self)
        }
        return text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
    }

    public var description: String {
        switch self {
        case .file(let path): return path
        case .descriptor(let fd): return "descriptor \(fd)"
        }
    }
}
