import BazarCore

/// JSON put together from parts already encoded (books' `/info` bodies, invalidation items),
/// so that they are not parsed or encoded again.
enum EncodedJSON {
    /// `[a,b,…]` from encoded values.
    static func array(_ items: [[UInt8]]) -> [UInt8] {
        [UInt8(ascii: "[")] + Array(items.joined(separator: [UInt8(ascii: ",")])) + [UInt8(ascii: "]")]
    }

    /// `{"name":value,…}` from member names and encoded values.
    static func object(_ members: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (index, (name, value)) in members.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += JSON.string(name).encoded() + [UInt8(ascii: ":")] + value
        }
        return out + [UInt8(ascii: "}")]
    }
}
