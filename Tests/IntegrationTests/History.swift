import Foundation

/// A concurrent history of reads and writes of books, with invoke and complete times on one
/// clock, and the read-after-acknowledged-write check of API.md's promise 2.
actor History {
    struct Operation: Sendable {
        enum Kind: Sendable { case read, write }
        let kind: Kind
        let book: Int
        let invoked: UInt64
        let completed: UInt64
        let version: Int
    }

    private(set) var operations: [Operation] = []
    private(set) var failures: [String] = []

    func record(_ operation: Operation) { operations.append(operation) }
    func fail(_ message: String) { failures.append(message) }

    /// Reads that started after a write to the same book was acknowledged yet saw an older version.
    func violations() -> [String] {
        var found: [String] = []
        for book in Set(operations.map(\.book)) {
            let writes = operations.filter { $0.book == book && $0.kind == .write }.sorted { $0.completed < $1.completed }
            for read in operations where read.book == book && read.kind == .read {
                // The newest version acknowledged before the read was invoked.
                let required = writes.prefix { $0.completed < read.invoked }.map(\.version).max() ?? 0
                if read.version < required {
                    found.append("book \(book): read invoked at \(read.invoked) saw version \(read.version), acknowledged \(required)")
                }
            }
        }
        return found
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}

extension HTTPClient {
    /// Runs `body` repeatedly in `workers` concurrent loops until `seconds` have passed.
    func load(workers: Int, seconds: Double, _ body: @escaping @Sendable (Int) async -> Void) async {
        let deadline = Date().addingTimeInterval(seconds)
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    while Date() < deadline { await body(worker) }
                }
            }
        }
    }

    /// Buys one copy with an idempotency key, retrying (same key, every 50 ms, at most
    /// `attempts` times) until the answer is 200 or 409; returns the final answer and how many
    /// attempts failed on the way.
    func buyRetrying(_ id: Int, key: String = UUID().uuidString, attempts: Int = 100) async -> (HTTPAnswer?, Int) {
        var failed = 0
        for _ in 0..<attempts {
            if let answer = try? await send("POST", "/purchase/\(id)", headers: ["Idempotency-Key": key]),
               answer.status == 200 || answer.status == 409 {
                return (answer, failed)
            }
            failed += 1
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        return (nil, failed)
    }
}
