import Foundation
import XCTest

/// API.md: "`--help` of every command prints to standard output and exits 0." bazarctl's
/// conventions: a bad command line names what is wrong on stderr and exits 2; `status` says
/// where the stack is; the number of fronts an `up` was given holds for later commands.
final class CommandLineTests: XCTestCase {
    private let bazarctl = Stack.repository.appendingPathComponent("nginx/bazarctl").path
    private let binaries = ProcessInfo.processInfo.environment["BAZAR_TEST_BIN"] ?? Stack.repository.appendingPathComponent(".build/debug").path

    /// Runs a program: its exit status, standard output and standard error, apart.
    private func run(_ program: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["BAZAR_VAR"] = NSTemporaryDirectory() + "bazar-cli-unused"
        environment.removeValue(forKey: "BAZAR_FRONTS")
        process.environment = environment.merging(extra) { $1 }
        let files = (0..<2).map { _ in URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("bazar-cli-\(UUID().uuidString)") }
        defer { for file in files { try? FileManager.default.removeItem(at: file) } }
        for file in files { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
        process.standardOutput = try FileHandle(forWritingTo: files[0])
        process.standardError = try FileHandle(forWritingTo: files[1])
        try process.run()
        process.waitUntilExit()
        let texts = try files.map { try String(contentsOf: $0, encoding: .utf8) }
        return (process.terminationStatus, texts[0], texts[1])
    }

    func testHelpAndVersionPrintToStandardOutputAndExit0() throws {
        for flag in ["--help", "-h", "help"] {
            let (status, output, error) = try run(bazarctl, [flag])
            XCTAssertEqual(status, 0, "bazarctl \(flag)")
            XCTAssertTrue(output.hasPrefix("usage: bazarctl"), "bazarctl \(flag) printed: \(output)")
            XCTAssertEqual(error, "", "bazarctl \(flag) wrote to stderr")
        }
        let (status, output, error) = try run(bazarctl, ["--version"])
        XCTAssertEqual(status, 0)
        XCTAssertTrue(output.hasPrefix("bazarctl (Bazar) "), output)
        XCTAssertEqual(error, "")
        for program in ["bazar-front", "bazar-catalog", "bazar-order"] {
            let (status, output, error) = try run(binaries + "/" + program, ["--help"])
            XCTAssertEqual(status, 0, "\(program) --help")
            XCTAssertTrue(output.hasPrefix("usage: \(program)"), "\(program) --help printed: \(output)")
            XCTAssertEqual(error, "", "\(program) --help wrote to stderr")
            let version = try run(binaries + "/" + program, ["--version"])
            XCTAssertEqual(version.0, 0, "\(program) --version")
            XCTAssertTrue(version.1.hasPrefix("\(program) (Bazar) swift "), "\(program) --version printed: \(version.1)")
            XCTAssertEqual(version.2, "", "\(program) --version wrote to stderr")
        }
    }

    /// Every other command of the repository (an executable file, or a Python script with a
    /// main) but those under docker/ (never run on a host): `--help` prints its usage to
    /// standard output, nothing to standard error, and exits 0. One whose text does not mention
    /// `--help` (or argparse, which answers it) fails without being run: it would run for real.
    func testEveryCommandsHelpPrintsToStandardOutputAndExits0() throws {
        let commands = try repositoryCommands()
        for expected in ["nginx/render-conf", "nginx/bazar-import", "bench/run", "Tests/chaos/chaos.py", ".ci/run"] {
            XCTAssertTrue(commands.contains(expected), "\(expected) is not among the commands found: \(commands)")
        }
        for command in commands {
            let path = Stack.repository.appendingPathComponent(command).path
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            guard text.contains("--help") || text.contains("argparse") else {
                XCTFail("\(command) does not handle --help")
                continue
            }
            let (status, output, error) = FileManager.default.isExecutableFile(atPath: path)
                ? try run(path, ["--help"]) : try run("/usr/bin/env", ["python3", path, "--help"])
            XCTAssertEqual(status, 0, "\(command) --help: \(error)")
            XCTAssertFalse(output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(command) --help printed nothing")
            XCTAssertEqual(error, "", "\(command) --help wrote to stderr")
        }
    }

    /// The repository's commands (paths relative to it): executable files and Python scripts
    /// with a main, outside docker/, the build and git's directories.
    private func repositoryCommands() throws -> [String] {
        let root = Stack.repository.standardizedFileURL
        let skipped: Set<String> = [".git", ".build", ".swiftpm", "docker", "__pycache__", "var", "Sources"]
        guard let walk = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var commands: [String] = []
        for case let url as URL in walk {
            if skipped.contains(url.lastPathComponent) {
                walk.skipDescendants()
                continue
            }
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let relative = String(url.standardizedFileURL.path.dropFirst(root.path.count + 1))
            let isPythonMain = url.pathExtension == "py"
                && ((try? String(contentsOf: url, encoding: .utf8))?.contains("if __name__ == \"__main__\"") ?? false)
            if FileManager.default.isExecutableFile(atPath: url.path) || isPythonMain { commands.append(relative) }
        }
        return commands.sorted()
    }

    func testBadCommandLineIsNamedOnStandardErrorAndExits2() throws {
        for (arguments, named) in [(["frobnicate"], "frobnicate"), (["start", "catalog-9"], "catalog-9"), (["stop"], "stop"), ([], "no command")] {
            let (status, output, error) = try run(bazarctl, arguments)
            XCTAssertEqual(status, 2, "bazarctl \(arguments)")
            XCTAssertEqual(output, "", "bazarctl \(arguments) wrote to stdout")
            XCTAssertTrue(error.contains(named), "bazarctl \(arguments) does not name '\(named)': \(error)")
            XCTAssertTrue(error.contains("usage: bazarctl"), error)
        }
    }

    /// `status` gives each process's uptime and how often the supervisor restarted it, and
    /// `logs NAME` shows its log; an unknown name is refused.
    func testStatusNamesUptimeAndRestartsAndLogsShowsAProcesssLog() async throws {
        let stack = try Stack()
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let plain = ["BAZAR_VAR": stack.variables.path, "BAZAR_PORT": "\(stack.port)", "BAZAR_BIN": binaries]
        let killed = try XCTUnwrap(stack.pid("order-2"))
        kill(killed, SIGKILL)
        var line = ""
        for _ in 0..<600 {
            let listing = try run(bazarctl, ["status"], environment: plain).1
            line = listing.split(separator: "\n").first { $0.hasPrefix("order-2 ") }.map(String.init) ?? ""
            if line.contains("restarts 1") { break }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        XCTAssertTrue(line.contains("running, up ") && line.contains("restarts 1"), "status after a kill: \(line)")
        let catalog = try run(bazarctl, ["status"], environment: plain).1.split(separator: "\n").first { $0.hasPrefix("catalog-1 ") }
        XCTAssertTrue(catalog?.contains("restarts 0") ?? false, "catalog-1 was never restarted: \(catalog ?? "")")
        let (status, log, _) = try run(bazarctl, ["logs", "order-2"], environment: plain)
        XCTAssertEqual(status, 0)
        XCTAssertTrue(log.contains("starting order-2"), log)
        XCTAssertEqual(try run(bazarctl, ["logs", "order-9"], environment: plain).0, 2)
    }

    /// After `BAZAR_FRONTS=3 up`, commands without BAZAR_FRONTS see all three fronts: `status`
    /// (which also names the directory, the port and /health), `stop front-2`, a plain `up`
    /// (which starts front-2 again and leaves front-3 alone), and `down`.
    func testFrontCountOfUpHoldsForLaterCommands() async throws {
        let stack = try Stack(["BAZAR_FRONTS": "3"])
        defer { stack.stop() }
        _ = try await stack.waitUntilLevel()
        let plain = ["BAZAR_VAR": stack.variables.path, "BAZAR_PORT": "\(stack.port)", "BAZAR_BIN": binaries,
                     "BAZAR_ADMIN_TOKEN": Stack.adminToken, "BAZAR_THREADS": "16"]
        let (status, listing, _) = try run(bazarctl, ["status"], environment: plain)
        XCTAssertEqual(status, 0, listing)
        XCTAssertTrue(listing.contains(stack.variables.path), "status names the state directory: \(listing)")
        XCTAssertTrue(listing.contains("\(stack.port)") && listing.contains("/health: 200"), "status names the port and /health: \(listing)")
        for front in ["front-2", "front-3"] { XCTAssertTrue(listing.contains(front), "status lists \(front): \(listing)") }

        let front3 = try XCTUnwrap(stack.pid("front-3"))
        let front2 = try XCTUnwrap(stack.pid("front-2"))
        XCTAssertEqual(try run(bazarctl, ["stop", "front-2"], environment: plain).0, 0)
        XCTAssertFalse(Processes.isAlive(front2), "front-2 was stopped")
        let (up, upOutput, upError) = try run(bazarctl, ["up"], environment: plain)
        XCTAssertEqual(up, 0, upOutput + upError)
        XCTAssertTrue(stack.pid("front-2").map(Processes.isAlive) ?? false, "a plain up starts front-2 again")
        XCTAssertEqual(stack.pid("front-3"), front3, "a plain up leaves front-3 running")
        XCTAssertTrue(Processes.isAlive(front3))

        XCTAssertEqual(try run(bazarctl, ["down"], environment: plain).0, 0)
        XCTAssertEqual(Processes.matching("bazar-front", stack.variables.path), [], "a front runs after a plain down")
    }
}
