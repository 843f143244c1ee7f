import Foundation
import Simulation

/// bazar-simulate: runs seeds of the replication protocol's simulation and checks API.md's
/// promises (docs/simulation.md).
let usage = """
    usage: bazar-simulate [--seeds N] [--first S] [--seed S] [--long] [--no-disk-loss] [--hole NAME] [--trace-lines N]
      --seeds N        run seeds first..first+N-1 (default 1000), stop at the first violation
      --first S        the first seed (default 1)
      --seed S         replay one seed and print its whole schedule
      --no-disk-loss   no crash loses a disk
      --long           runs past the ten minutes a key is kept (slow clients, long-held messages)
      --hole NAME      put an old decision back, in the simulation only: \(Hole.allCases.map(\.rawValue).joined(separator: ", "))
      --trace-lines N  how much of a failing seed's schedule to print (default 80; 0: all)
    Exits 1 when a seed breaks a promise (printing the seed, the promise and the schedule), 2 on bad usage.
    """

var seeds: UInt64 = 1_000
var first: UInt64 = 1
var single: UInt64?
var long = false
var diskLoss = true
var holes: Set<Hole> = []
var traceLines = 80
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
    case "--no-disk-loss": diskLoss = false
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
model.diskLoss = diskLoss
let simulation = Simulation(model: model, holes: holes)
let flags = (long ? " --long" : "") + (diskLoss ? "" : " --no-disk-loss") + holes.map { " --hole \($0.rawValue)" }.sorted().joined()

/// Prints a failing seed: its violations, then its schedule replayed (and checked to replay).
@MainActor func report(_ outcome: Simulation.Outcome, lines: Int) {
    let replay = simulation.run(seed: outcome.seed, tracing: true)
    let trace = replay.trace ?? []
    print("seed \(outcome.seed) breaks \(outcome.violations.count) promise(s) after \(outcome.steps) steps:")
    for violation in outcome.violations { print("  VIOLATION \(violation)") }
    let shown = lines == 0 ? trace : Array(trace.suffix(lines))
    print("schedule (\(trace.count) lines\(shown.count < trace.count ? ", the last \(shown.count)" : "")):")
    for line in shown { print("  \(line)") }
    let same = replay.scheduleHash == outcome.scheduleHash && replay.violations.map(\.description) == outcome.violations.map(\.description)
    print("replay: \(same ? "identical schedule and violations" : "DIFFERENT (nondeterminism)") — bazar-simulate --seed \(outcome.seed)\(flags) --trace-lines 0")
}

if let single {
    let outcome = simulation.run(seed: single, tracing: true)
    if outcome.violations.isEmpty {
        for line in outcome.trace ?? [] { print(line) }
        print("seed \(single): \(outcome.operations) operations, \(outcome.steps) steps, no promise broken")
        exit(0)
    }
    report(outcome, lines: traceLines)
    exit(1)
}

let started = Date()
var steps = 0
var operations = 0
for seed in first..<(first + seeds) {
    let outcome = simulation.run(seed: seed)
    steps += outcome.steps
    operations += outcome.operations
    if !outcome.violations.isEmpty {
        report(outcome, lines: traceLines)
        print("first violation at seed \(seed), the \(seed - first + 1)th run\(flags)")
        exit(1)
    }
}
let elapsed = Date().timeIntervalSince(started)
print(String(format: "bazar-simulate: %llu seeds (%llu–%llu%@), %d operations, %d steps, no promise broken; %.1f s, %.0f seeds/s",
             seeds, first, first + seeds - 1, flags, operations, steps, elapsed, Double(seeds) / max(elapsed, 1e-9)))
