import Basics
import BazarCore
import Foundation
import XCTest

/// Secrets handed to a tier on an inherited descriptor or in a file (`SecretSource`).
final class SecretSourceTests: XCTestCase {
    /// `--NAME-fd` wins over `--NAME-file`; without either, the default file; with neither nor
    /// a default, the file flag is required.
    func testTheDescriptorWinsOverTheFile() throws {
        let both = try Flags(["--token-fd", "7", "--token-file", "/x"], known: ["token-fd", "token-file"])
        XCTAssertEqual(try SecretSource.from(both, "token"), .descriptor(7))
        let file = try Flags(["--token-file", "/x"], known: ["token-fd", "token-file"])
        XCTAssertEqual(try SecretSource.from(file, "token"), .file("/x"))
        let none = try Flags([], known: ["token-fd", "token-file"])
        XCTAssertEqual(try SecretSource.from(none, "token", defaultFile: "/d"), .file("/d"))
        XCTAssertThrowsError(try SecretSource.from(none, "token"))
        let bad = try Flags(["--token-fd", "-1"], known: ["token-fd", "token-file"])
        XCTAssertThrowsError(try SecretSource.from(bad, "token"))
    }

    /// A descriptor is read from its start every time (the front and the server options both
    /// read the secret), its first line only; it stays open.
    func testADescriptorIsReadWholeByEveryReader() throws {
        let path = NSTemporaryDirectory() + "secret-source-\(UUID().uuidString)"
        try "first-line-secret\nsecond\n".write(toFile: path, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fd = open(path, O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let source = SecretSource.descriptor(fd)
        XCTAssertEqual(try source.firstLine(), "first-line-secret")
        XCTAssertEqual(try source.firstLine(), "first-line-secret")
        XCTAssertEqual(try SecretSource.file(path).firstLine(), "first-line-secret")
        XCTAssertThrowsError(try SecretSource.descriptor(9_999).firstLine(), "a descriptor that is not open")
    }
}
