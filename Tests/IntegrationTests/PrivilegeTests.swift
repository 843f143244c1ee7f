import Foundation
import XCTest

/// API.md: "No one but the stack itself may reach its FastCGI sockets or internal listener:
/// not other local users, not `nobody`." Started as root, the tiers and nginx's workers run
/// as the dedicated user (BAZAR_USER, default bazar), and only root and that user enter run/.
final class PrivilegeTests: StackTestCase {
    private static let sockets = ["internal", "front", "front-invalidate", "catalog-1", "catalog-2", "order-1", "order-2"]
    private static let tiers = ["front", "catalog-1", "catalog-2", "order-1", "order-2"]
    private static var stackUser: String { ProcessInfo.processInfo.environment["BAZAR_USER"] ?? "bazar" }

    /// As `nobody` (group nogroup) and as `daemon`, connecting to internal.sock or to any
    /// tier's socket fails with EACCES; as the stack's user it connects (the probe works);
    /// the stack serves meanwhile.
    func testOtherUsersCannotConnectToTheSockets() async throws {
        try requireRoot()
        let stack = try stack
        let run = stack.variables.appendingPathComponent("run").path
        for name in Self.sockets {
            let path = "\(run)/\(name).sock"
            XCTAssertEqual(try probe(path, as: ["--reuid=nobody", "--regid=nogroup", "--clear-groups"]), "EACCES", "nobody → \(name).sock")
            XCTAssertEqual(try probe(path, as: ["--reuid=daemon", "--regid=daemon", "--clear-groups"]), "EACCES", "daemon → \(name).sock")
            XCTAssertEqual(try probe(path, as: ["--reuid=\(Self.stackUser)", "--regid=\(Self.stackUser)", "--init-groups"]), "connected",
                           "\(Self.stackUser) → \(name).sock (the probe itself)")
        }
        let health = try await client.get("/health")
        XCTAssertEqual(health.status, 200)
        let bought = try await client.send("POST", "/purchase/4")
        XCTAssertEqual(bought.status, 200)
    }

    /// Every tier runs as the stack's user (real, effective, saved and filesystem uid and gid,
    /// no supplementary root group), and so do nginx's workers; the master stays root.
    func testTiersAndNginxWorkersRunAsTheStackUser() throws {
        try requireRoot()
        let stack = try stack
        let user = try XCTUnwrap(getpwnam(Self.stackUser), "no user \(Self.stackUser)").pointee
        for name in Self.tiers {
            let pid = try XCTUnwrap(stack.pid(name), name)
            XCTAssertEqual(Processes.ids("Uid", of: pid), Array(repeating: user.pw_uid, count: 4), "\(name)'s uids")
            XCTAssertEqual(Processes.ids("Gid", of: pid), Array(repeating: user.pw_gid, count: 4), "\(name)'s gids")
            XCTAssertFalse(Processes.ids("Groups", of: pid).contains(0), "\(name) keeps group root")
        }
        for instance in ["nginx", "nginx-internal"] {
            let master = try XCTUnwrap(stack.pid(instance))
            XCTAssertEqual(Processes.ids("Uid", of: master).first, 0, "\(instance)'s master binds its listener as root")
            let workers = Processes.children(of: master)
            XCTAssertFalse(workers.isEmpty)
            for worker in workers {
                XCTAssertEqual(Processes.ids("Uid", of: worker), Array(repeating: user.pw_uid, count: 4), "worker \(worker)'s uids")
                XCTAssertEqual(Processes.ids("Gid", of: worker), Array(repeating: user.pw_gid, count: 4), "worker \(worker)'s gids")
            }
        }
        // The user is a system account that cannot log in.
        XCTAssertLessThan(user.pw_uid, 1000)
        XCTAssertEqual(String(cString: user.pw_shell), "/usr/sbin/nologin")
    }

    // MARK: - Helpers

    /// These tests check what bazarctl does as root (make test runs as root, as CI does): run
    /// anywhere else they fail, rather than pass without checking anything.
    private func requireRoot() throws {
        guard getuid() == 0 else { throw StackError.startFailed("PrivilegeTests must run as root: bazarctl switches users only then") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
            throw StackError.startFailed("PrivilegeTests need /usr/bin/setpriv and /usr/bin/python3")
        }
    }

    /// Connects to a unix socket as another user (setpriv ARGS): "connected" or the errno's name.
    private func probe(_ path: String, as identity: [String]) throws -> String {
        let script = """
            import errno, socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(sys.argv[1]); print("connected")
            except OSError as e:
                print(errno.errorcode.get(e.errno, str(e.errno)))
            """
        let (_, output) = try stack.run("/usr/bin/setpriv", identity + ["/usr/bin/python3", "-I", "-c", script, path])
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
