import Foundation
import Simulation

/// bazar-simulate: runs seeds of the replication protocol's simulation and checks API.md's
/// promises (docs/simulation.md).
let usage = """
    usage: bazar-simulate [--seeds N] [--first S] [--seed S] [--long] [--lose-disks LIST] [--strict] [--drift PPM] [--jobs N] [--hole NAME] [--trace-lines N]
      --seeds N        run seeds first..first+N-1 (default 1000), stop at the first violation
      --first S        the first seed (default 1)
      --seed S         replay one seed and print its whole schedule
      --lose-disks L   whose crash may lose the disk: a comma-separated list of catalog-1,
                       catalog-2, order-1, ... or none (default catalog-1,catalog-2)
      --drift PPM      how far each process's clock rate may be off (default 100 parts per million)
      --strict         fail on the known gaps too (docs/simulation.md; else counted and named)
      --jobs N         seeds run in parallel (default: the processors)
      --long           runs past the ten minutes a key is kept (slow clients, long-held messages)
      --hole NAME      put an old decision back, in the simulation only: \(Hole.allCases.map(\.rawValue).joined(separator: ", "))
      --trace-lines N  a failing seed's schedule: its faults, decisions and answers, then its
                       last N lines (default 20; 0: every line)
    Exits 1 when a seed breaks a promise (printing the seed, the promise and the schedule), 2 on bad usage.
    """

var seeds: UInt64 = 1_000
var first: UInt64 = 1
var single: UInt64?
var long = false
var disksLost: Set<NodeName> = FaultModel.standard.disksLost
var holes: Set<Hole> = []
var traceLines = 20
var strict = false
var drift: Int64?
var jobs = ProcessInfo.processInfo.activeProcessorCount
var arguments = CommandLine.arguments.dropFirst()

@MainActor func value() -> String {
    guard let next = arguments.popFirst() else {
        FileHandle.standardError.write(Data((usage + "\n").utf8))
        exit(2)
    }
    return next
}

func number(_ text: String) -> UInt64 {
    guard let parsed = UInt64(text) else {
        FileHandle.standardError.write(Data("bazar-simulate: not a number: \(text)\n".utf8))
        exit(2)
    }
    return parsed
}

while let argument = arguments.popFirst() {
    switch argument {
    case "--seeds": seeds = number(value())
    case "--first": first = number(value())
    case "--seed": single = number(value())
    case "--long": long = true
    case "--lose-disks":
        let names = value()
        disksLost = []
        for name in names.split(separator: ",") where name != "none" {
            guard let node = NodeName.allCases.first(where: { $0.description == name }) else {
                FileHandle.standardError.write(Data("bazar-simulate: no process \(name)\n".utf8))
                exit(2)
            }
            disksLost.insert(node)
        }
    case "--strict": strict = true
    case "--drift": drift = Int64(number(value()))
    case "--jobs": jobs = Int(number(value()))
    case "--trace-lines": traceLines = Int(number(value()))
    case "--hole":
        let name = value()
        guard let hole = Hole(rawValue: name) else {
            FileHandle.standardError.write(Data("bazar-simulate: unknown hole \(name)\n\(usage)\n".utf8))
            exit(2)
        }
        holes.insert(hole)
    case "--help", "-h":
        print(usage)
        exit(0)
    default:
        FileHandle.standardError.write(Data("bazar-simulate: unknown argument \(argument)\n\(usage)\n".utf8))
        exit(2)
    }
}

var model = long ? FaultModel.long : .standard
model.disksLost = disksLost
if let drift { model.clockDriftPPM = drift }
let simulation = Simulation(model: model, holes: holes)
/// The same runs without the holes: a seed shows a hole only if it breaks a promise with the
/// hole put back and none without it.
let baseline = Simulation(model: model)
let disksFlag = disksLost == FaultModel.standard.disksLost ? ""
    : " --lose-disks " + (disksLost.isEmpty ? "none" : disksLost.map(\.description).sorted().joined(separator: ","))
let driftFlag = drift.map { " --drift \($0)" } ?? ""
let holesFlag = holes.map { " --hole \($0.rawValue)" }.sorted().joined()
let flags = (long ? " --long" : "") + disksFlag + (strict ? " --strict" : "") + driftFlag + holesFlag

/// Prints a failing seed: its violations, then its schedule replayed (and checked to replay).
@MainActor func report(_ outcome: Simulation.Outcome, lines: Int) {
    let replay = simulation.run(seed: outcome.seed, tracing: true)
    let trace = replay.trace ?? []
    print("seed \(outcome.seed) breaks \(outcome.violations.count) promise(s) after \(outcome.steps) steps:")
    for violation in outcome.violations { print("  VIOLATION \(violation)") }
    // The story: faults, the catalog replicas' decisions and epochs, restarts, and what every client saw.
    let story = trace.filter { line in
        ["FAULT", "start decision", " leads ", " demotes ", "restart ", "resume ", "heal", "network drops", " runs for epoch ",
         " grants epoch ", " won epoch ", " steps down", " learns at start", " probes "].contains { line.contains($0) }
            || line.split(separator: " ").dropFirst().first?.hasPrefix("client-") == true && !line.contains("→ catalog") && !line.contains(" acts")
    }
    let shown = lines == 0 ? trace : story + ["…"] + Array(trace.suffix(lines))
    print("schedule (\(trace.count) lines; \(lines == 0 ? "all of them" : "the faults, decisions and answers, then the last \(lines)")):")
    for line in shown { print("  \(line)") }
    let same = replay.scheduleHash == outcome.scheduleHash && replay.violations.map(\.description) == outcome.violations.map(\.description)
    print("replay: \(same ? "identical schedule and violations" : "DIFFERENT (nondeterminism)") — bazar-simulate --seed \(outcome.seed)\(flags) --trace-lines 0")
}

if let single {
    let outcome = simulation.run(seed: single, tracing: true)
    if outcome.failures(strict: strict).isEmpty {
        for line in outcome.trace ?? [] { print(line) }
        for gap in outcome.violations { print("known gap: \(gap)") }
        print("seed \(single): \(outcome.operations) operations, \(outcome.steps) steps, no promise broken")
        exit(0)
    }
    report(outcome, lines: traceLines)
    exit(1)
}

/// The seeds of a sweep, handed out in order to the workers, and what they found.
final class Sweep: @unchecked Sendable {
    private let lock = NSLock()
    private var next: UInt64
    private let end: UInt64
    private(set) var steps = 0
    private(set) var operations = 0
    private(set) var knownGaps: [UInt64: Violation] = [:]
    private(set) var failures: [Simulation.Outcome] = []
    /// The failover times of the runs that lost the primary for good (nanoseconds).
    private(set) var failovers: [Int64] = []

    init(first: UInt64, count: UInt64) {
        next = first
        end = first + count
    }

    /// The next seed to run; nil once they are all out or a seed failed.
    func take() -> UInt64? {
        lock.withLock {
            guard next < end, failures.isEmpty else { return nil }
            defer { next += 1 }
            return next
        }
    }

    func record(_ outcome: Simulation.Outcome, strict: Bool, attributable: () -> Bool) {
        let failed = !outcome.failures(strict: strict).isEmpty && attributable()
        lock.withLock {
            steps += outcome.steps
            operations += outcome.operations
            if let gap = outcome.violations.first(where: { $0.knownGap != nil }) { knownGaps[outcome.seed] = gap }
            if failed { failures.append(outcome) }
            if let time = outcome.failoverTime { failovers.append(time) }
        }
    }
}

let started = Date()
let strictly = strict
let holesPutBack = holes
let sweep = Sweep(first: first, count: seeds)
DispatchQueue.concurrentPerform(iterations: max(jobs, 1)) { _ in
    while let seed = sweep.take() {
        sweep.record(simulation.run(seed: seed), strict: strictly) {
            holesPutBack.isEmpty || baseline.run(seed: seed).failures(strict: strictly).isEmpty
        }
    }
}
let elapsed = Date().timeIntervalSince(started)
// Every seed below a failing one ran to its end: the smallest failing seed is the first.
if let failure = sweep.failures.min(by: { $0.seed < $1.seed }) {
    report(failure, lines: traceLines)
    print("first violation at seed \(failure.seed), the \(failure.seed - first + 1)th run\(flags)"
          + (holes.isEmpty ? "" : " (the same seed breaks no promise without the hole)"))
    exit(1)
}
if let (seed, gap) = sweep.knownGaps.min(by: { $0.key < $1.key }) {
    print("known gaps (docs/simulation.md; --strict fails on them): \(sweep.knownGaps.count) seeds, the first \(seed): \(gap)")
}
let failovers = sweep.failovers.sorted()
if !failovers.isEmpty {
    print(String(format: "primary lost for good in %d seeds: first write acknowledged again after %.2f s (median), %.2f s (max)",
                 failovers.count, Double(failovers[failovers.count / 2]) / 1e9, Double(failovers.last!) / 1e9))
}
print(String(format: "bazar-simulate: %llu seeds (%llu–%llu%@), %d operations, %d steps, no promise broken; %.1f s, %.0f seeds/s",
             seeds, first, first + seeds - 1, flags, sweep.operations, sweep.steps, elapsed, Double(seeds) / max(elapsed, 1e-9)))
