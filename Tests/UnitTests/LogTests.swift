import Basics
import BazarCore
import Foundation
import XCTest

/// `Log` never stops the process: a line that cannot be written is dropped and counted, and the
/// next line written says how many were lost.
final class LogTests: XCTestCase {
    /// With stderr on `/dev/full`, three lines are lost (and the process lives on); with stderr
    /// on a file again, the next line is preceded by `lost log lines` with `lost=3`.
    func testLinesThatCannotBeWrittenAreCountedAndReported() throws {
        let saved = dup(2)
        defer { dup2(saved, 2); close(saved) }
        let full = open("/dev/full", O_WRONLY)
        XCTAssertGreaterThanOrEqual(full, 0)
        dup2(full, 2)
        close(full)
        for number in 1...3 { Log.info("into a full disk", [("number", "\(number)")]) }

        let file = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("bazar-log-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        let written = open(file.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        XCTAssertGreaterThanOrEqual(written, 0)
        dup2(written, 2)
        close(written)
        Log.info("space again")
        dup2(saved, 2)

        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2, "\(lines)")
        XCTAssertTrue(lines.first?.contains(#"level=warn msg="lost log lines" lost=3"#) == true, "\(lines)")
        XCTAssertTrue(lines.last?.contains(#"msg="space again""#) == true, "\(lines)")
    }
}
