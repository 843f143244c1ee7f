/// The id of the public request the current thread serves (its `X-Request-Id`), so that log
/// lines and internal calls made on its behalf name it without passing it down every call.
public enum RequestTrace {
    @TaskLocal private static var current = ""

    /// The id bound by the innermost `serving` on this thread (or task), empty when none.
    public static var id: String { current }

    /// Runs `body` with `id` as the current request's id.
    public static func serving<Result>(_ id: String, _ body: () throws -> Result) rethrows -> Result {
        try $current.withValue(id, operation: body)
    }
}
