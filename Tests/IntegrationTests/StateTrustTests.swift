import Foundation
import XCTest

/// Abuse on one host, items 3 and 4 (docs/security.md, "State directory" and "Secrets"):
/// bazarctl refuses a state directory another user could have prepared and never follows a
/// link to open a log, and each secret is readable only by what needs it. These check what
/// bazarctl does as root (make test runs as root, as CI does): elsewhere they fail.
final class StateTrustTests: XCTestCase {
    /// `nobody` made BAZAR_VAR first, under the world-writable /tmp, with its own admin token,
    /// internal secret and log/order-2.log a link to a file of root's: root's `up` exits 1,
    /// naming the directory and its owner, starts nothing, and the file stays as it was.
    func testAStateDirectoryPlantedByAnotherUserIsRefused() throws {
        try requireRoot()
        let target = try rootFile()
        let state = temporaryPath("planted")
        defer { cleanUp(state, target) }
        let plant = "mkdir -m 0755 \(state) && echo planted-token > \(state)/admin.token"
            + " && echo plantedsecret0123456789 > \(state)/internal.secret && mkdir \(state)/log"
            + " && ln -s \(target) \(state)/log/order-2.log"
        XCTAssertEqual(try run("/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "/bin/sh", "-c", plant]).0, 0)

        let (status, output) = try bazarctl("up", state: state)
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("refusing \(state): it belongs to nobody"), output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(state)/run"), "up went on: \(output)")
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "root's own\n", "a tier's log went into root's file")
        XCTAssertEqual(Processes.matching(state), [], "a process runs from the planted directory")
    }

    /// A state directory of root's whose log/order-2.log is a link to another file: `up` exits
    /// 1 naming the link, and the file it points to stays as it was.
    func testALogThatIsALinkIsNeverFollowed() throws {
        try requireRoot()
        let target = try rootFile()
        let state = temporaryPath("linked-log")
        defer { cleanUp(state, target) }
        try FileManager.default.createDirectory(atPath: "\(state)/log", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try FileManager.default.createSymbolicLink(atPath: "\(state)/log/order-2.log", withDestinationPath: target)

        let (status, output) = try bazarctl("up", state: state)
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("refusing \(state)/log/order-2.log: it is a symbolic link"), output)
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "root's own\n", "a tier's log went into root's file")
    }

    /// A state directory that every user may write to is refused too (they could replace any
    /// file in it), naming the mode.
    func testAStateDirectoryOthersMayWriteToIsRefused() throws {
        try requireRoot()
        let state = temporaryPath("open")
        defer { cleanUp(state, nil) }
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        chmod(state, 0o777)
        let (status, output) = try bazarctl("up", state: state)
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("refusing \(state): every user may write to it (mode 777)"), output)
    }

    /// Every tier runs as the stack's user, which can open neither admin.token nor
    /// internal.secret: the tiers get the secret on a descriptor, the front alone the token.
    /// No catalog or order process has the token in its environment or on a descriptor, and
    /// none can read it out of the front (its /proc environment and descriptors, its memory:
    /// the tiers are undumpable). The front still admits the token.
    func testOnlyTheFrontCanReadTheAdminToken() async throws {
        try requireRoot()
        let stack = try Stack()
        defer { stack.stop() }
        let variables = stack.variables.path
        let front = try XCTUnwrap(stack.pid("front"))
        for name in ["catalog-1", "catalog-2", "order-1", "order-2"] {
            let pid = try XCTUnwrap(stack.pid(name), name)
            let uid = try XCTUnwrap(Processes.ids("Uid", of: pid).first)
            let gid = try XCTUnwrap(Processes.ids("Gid", of: pid).first)
            XCTAssertNotEqual(uid, 0, "\(name) runs as root")
            let asTier = ["--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "/bin/cat"]
            for file in ["\(variables)/admin.token", "\(variables)/internal.secret", "/proc/\(front)/environ",
                         "/proc/\(front)/fd/4", "/proc/\(front)/mem"] {
                let (status, output) = try run("/usr/bin/setpriv", asTier + [file])
                XCTAssertNotEqual(status, 0, "\(name)'s user read \(file): \(output)")
                XCTAssertFalse(output.contains(Stack.adminToken), "\(name)'s user read the token from \(file)")
            }
            let environment = (try? String(contentsOfFile: "/proc/\(pid)/environ", encoding: .utf8)) ?? ""
            XCTAssertFalse(environment.contains(Stack.adminToken), "\(name)'s environment holds the admin token")
            for fd in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? [] {
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")) ?? ""
                XCTAssertNotEqual(target, "\(variables)/admin.token", "\(name) holds admin.token open")
            }
        }
        let update = try await stack.client.send("PUT", "/update/1", headers: ["Authorization": "Bearer \(Stack.adminToken)"],
                                                 body: Data(#"{"price": 31}"#.utf8))
        XCTAssertEqual(update.status, 200, "the front admits the token it got on its descriptor")
        let refused = try await stack.client.send("PUT", "/update/1", headers: ["Authorization": "Bearer planted-token"],
                                                  body: Data(#"{"price": 32}"#.utf8))
        XCTAssertEqual(refused.status, 401)
    }

    // MARK: - Helpers

    private func requireRoot() throws {
        guard getuid() == 0 else { throw StackError.startFailed("StateTrustTests must run as root: bazarctl switches users only then") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            throw StackError.startFailed("StateTrustTests need /usr/bin/setpriv")
        }
    }

    private func temporaryPath(_ name: String) -> String {
        "/tmp/bazar-\(name)-\(UUID().uuidString.prefix(8))"
    }

    /// A file of root's, 0644, holding "root's own".
    private func rootFile() throws -> String {
        let path = temporaryPath("roots-file")
        try "root's own\n".write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o644)
        return path
    }

    /// `bazarctl COMMAND` on `state`, on a free port: its status and output.
    private func bazarctl(_ command: String, state: String) throws -> (Int32, String) {
        var environment = ProcessInfo.processInfo.environment
        environment["BAZAR_VAR"] = state
        environment["BAZAR_PORT"] = "\(try Stack.freePort())"
        environment["BAZAR_BIN"] = environment["BAZAR_TEST_BIN"] ?? Stack.repository.appendingPathComponent(".build/debug").path
        environment["BAZAR_THREADS"] = "16"
        return try run(Stack.bazarctl, [command], environment: environment)
    }

    private func run(_ program: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (Int32, String) {
        try Stack.run(program, arguments, environment: environment)
    }

    /// Stops whatever an `up` that was not refused started (a bazarctl without the fix), then
    /// removes the directory and the file.
    private func cleanUp(_ state: String, _ target: String?) {
        if FileManager.default.fileExists(atPath: "\(state)/run") { _ = try? bazarctl("down", state: state) }
        try? FileManager.default.removeItem(atPath: state)
        if let target { try? FileManager.default.removeItem(atPath: target) }
    }
}
