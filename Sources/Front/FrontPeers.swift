import Basics
import BazarCore
import SystemCalls

/// Every front of the deployment, by the name nginx's internal listener reaches it under
/// (`/<name>/…`), so that the front answering `/metrics` gathers every front's own series. From
/// `--fronts`: a name (`front-2`), or `NAME@HOST:PORT` where HOST is a DNS name, which stands for
/// one front `NAME@IP:PORT` per IPv4 address of HOST, looked up at every scrape (across hosts,
/// fronts come and go). Without `--fronts`: the fronts bazarctl's supervisor watches (`front`
/// and `front-N` in its restarts file), else this front alone.
struct FrontPeers: Sendable {
    /// This front's name.
    let own: String
    /// `--fronts`, as given (empty: none given).
    let listed: [String]
    /// The supervisor's restarts file, whose processes are the fronts when `--fronts` is not given.
    let supervisor: SupervisorRestarts

    /// Every front's name, this one's first, each once.
    func names() -> [String] {
        let others = listed.isEmpty ? supervisor.processes().filter(Self.isFrontOnOneHost) : listed.flatMap(Self.expand)
        var seen: Set = [own]
        return [own] + others.filter { seen.insert($0).inserted }
    }

    /// `--fronts`' items, checked as `--name` is (they go into a path).
    static func parse(_ items: [String]) throws(FlagError) -> [String] {
        for item in items where !FrontTier.isName(item) {
            throw FlagError("--fronts must list names of 1 to 100 letters, digits and . _ : @ - (got '\(item)')")
        }
        return items
    }

    /// `front` and `front-N`: the names of the fronts bazarctl runs on one host.
    static func isFrontOnOneHost(_ name: String) -> Bool {
        let suffix = name.dropFirst(6)
        return name == "front" || (name.hasPrefix("front-") && !suffix.isEmpty && suffix.allSatisfy { ("0"..."9").contains($0) })
    }

    /// An item of `--fronts` as the names it stands for: `NAME@HOST:PORT` with HOST a DNS name is
    /// one name per IPv4 address of HOST; anything else is itself.
    static func expand(_ item: String) -> [String] {
        guard let at = item.firstIndex(of: "@"), let colon = item.lastIndex(of: ":"), at < colon else { return [item] }
        let host = item[item.index(after: at)..<colon]
        guard host.contains(where: { $0.isLetter }) else { return [item] }
        return Posix.ipv4Addresses(String(host)).map { item[..<at] + "@" + $0 + item[colon...] }
    }
}
