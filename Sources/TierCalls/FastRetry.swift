import BazarCore

/// One more try of a write whose try failed fast and surely was not applied. The usual cause:
/// nginx sent it on a kept connection that a crowded tier was letting go at that moment (the
/// tier closes it unread, and nginx never resends a POST), after which the settle aborted that
/// try for good. The write goes again under the same key and a new attempt, only when the first
/// try took at most `window`, so that the second still fits in the time the caller allows.
public enum FastRetry {
    /// The longest a first try may have taken to be tried again.
    public static let window: Duration = .milliseconds(300)

    /// Runs `run(attempt)`; when it reports not applied within `window`, runs it once more
    /// under `attempt` + `.` + `tier` (each tier's retries get names of their own).
    public static func write<Answer>(attempt: String, tier: String,
                                     _ run: (_ attempt: String) -> (answer: Answer, notApplied: Bool)) -> Answer {
        let start = Monotonic.now()
        let first = run(attempt)
        guard first.notApplied, Monotonic.now() - start <= window.nanoseconds else { return first.answer }
        Log.info("a write failed fast and was not applied; trying it once more", [("attempt", attempt)])
        return run("\(attempt).\(tier)").answer
    }
}
