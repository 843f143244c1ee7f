import Basics

/// JSON put together from parts already encoded (books' `/info` bodies and search items,
/// invalidation items), so that they are not parsed or encoded again: each part is copied once.
public enum EncodedJSON {
    /// `[a,b,…]` from encoded values.
    public static func array(_ items: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(items.reduce(2) { $0 + $1.count + 1 })
        out.append(UInt8(ascii: "["))
        for (index, item) in items.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: item)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// `{"name":value,…}` from member names and encoded values.
    public static func object(_ members: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(members.reduce(2) { $0 + $1.0.utf8.count + $1.1.count + 4 })
        out.append(UInt8(ascii: "{"))
        for (index, (name, value)) in members.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSON.string(name).append(to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: value)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}
