/// The witness's stand-in lease (`Witness.standInLease`), for the simulator
/// (docs/simulation.md), which counts it on the simulated order replica's own clock.
package enum WitnessTimes {
    package static let standInLease = Witness.standInLease
}
