import Basics
@testable import BazarCore
import XCTest

final class FlagsTests: XCTestCase {
    private func error(_ arguments: [String], known: [String] = ["name", "threads"]) -> String? {
        do {
            _ = try Flags(arguments, known: known)
            return nil
        } catch {
            return error.message
        }
    }

    func testKnownFlagsAreRead() throws {
        let flags = try Flags(["--name", "catalog-1", "--threads", "8", "--list", "a,b"], known: ["name", "threads", "list"])
        XCTAssertEqual(try flags.string("name"), "catalog-1")
        XCTAssertEqual(try flags.int("threads", default: 64, in: 1...1024), 8)
        XCTAssertEqual(try flags.list("list", default: []), ["a", "b"])
        XCTAssertEqual(try flags.string("absent", default: "x"), "x")
    }

    func testUnknownFlagIsRefusedByName() {
        let message = error(["--name", "a", "--no-such-flag", "1"])
        XCTAssertEqual(message?.contains("unknown flag --no-such-flag"), true, message ?? "accepted")
        XCTAssertEqual(message?.contains("--name, --threads"), true, "lists the known flags: \(message ?? "")")
    }

    func testMalformedCommandLinesAreRefused() {
        XCTAssertEqual(error(["--name"]), "--name needs a value")
        XCTAssertEqual(error(["name", "x"]), "unexpected argument 'name'")
        XCTAssertEqual(error(["--", "x"]), "unexpected argument '--'")
        XCTAssertEqual(error(["--name", "a", "--name", "b"]), "--name is given twice")
    }

    func testBadValuesAreRefusedByName() throws {
        let flags = try Flags(["--role", "primry", "--threads", "0", "--list", ","], known: ["role", "threads", "list"])
        XCTAssertThrowsError(try flags.choice("role", ["primary", "backup"])) { error in
            XCTAssertEqual((error as? FlagError)?.message, "--role must be one of primary, backup (got 'primry')")
        }
        XCTAssertThrowsError(try flags.int("threads", default: 64, in: 1...1024)) { error in
            XCTAssertEqual((error as? FlagError)?.message, "--threads must be an integer in 1...1024 (got '0')")
        }
        XCTAssertThrowsError(try flags.list("list", default: []))
        XCTAssertThrowsError(try flags.string("missing")) { error in
            XCTAssertEqual((error as? FlagError)?.message, "--missing is required")
        }
    }
}
