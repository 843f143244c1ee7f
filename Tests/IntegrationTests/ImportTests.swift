import Foundation
import XCTest

/// `nginx/bazarctl import FILE`: CSV (RFC 4180 quoting) or JSON lines through the stack's
/// `POST /books`; a bad line imports nothing; running it again adds nothing twice.
final class ImportTests: StackTestCase {
    private func file(_ name: String, _ text: String) throws -> String {
        let path = try stack.variables.appendingPathComponent("\(UUID().uuidString.prefix(6))-\(name)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The books of a topic, as `/info` answers them, in id order.
    private func books(of topic: String) async throws -> [JSONValue] {
        var books: [JSONValue] = []
        for id in try await client.searchIDs(topic.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? topic) {
            books.append(try await client.get("/info/\(id)").json)
        }
        return books
    }

    /// The last line of a command's output.
    private func lastLine(_ output: String) -> String {
        output.split(separator: "\n").last.map(String.init) ?? ""
    }

    /// The titles of a topic's books, as `/search` lists them.
    private func titles(of topic: String) async throws -> [String] {
        var titles: [String] = []
        var after = 0
        while true {
            let page = try await client.get("/search/\(topic)?after=\(after)&limit=1000").json
            titles += page["items"].array.compactMap { $0["title"].string }
            guard let next = page["next"].int else { return titles }
            after = next
        }
    }

    private func fields(_ book: JSONValue) -> [String] {
        [book["title"].string ?? "", book["topic"].string ?? "", "\(book["price"].double ?? 0)", "\(book["stock"].int ?? -1)"]
    }

    func testCSVWithQuotingIsImported() async throws {
        let topic = "csv-\(UUID().uuidString.prefix(8))"
        let path = try file("books.csv", """
            stock,title,topic,price\r
            3,"Commas, ""quotes"" and more",\(topic),12.5\r
            0,Ünïcödé ✓ title,\(topic),7\r
            10,"inner  spaces  kept",\(topic),0.99\r

            """)
        let (status, output) = try stack.ctl("import", path)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("3 books added"), output)
        XCTAssertFalse(output.contains("\r"), "no progress line when stdout is not a terminal")
        let imported = try await books(of: topic)
        XCTAssertEqual(imported.map(fields), [["Commas, \"quotes\" and more", topic, "12.5", "3"],
                                              ["Ünïcödé ✓ title", topic, "7.0", "0"],
                                              ["inner  spaces  kept", topic, "0.99", "10"]])
        // The same file again: every request replays the first run's books.
        let (again, secondOutput) = try stack.ctl("import", path)
        XCTAssertEqual(again, 0, secondOutput)
        XCTAssertTrue(secondOutput.contains("0 books added, 3 already added by an earlier run"), secondOutput)
        let afterSecondRun = try await books(of: topic)
        XCTAssertEqual(afterSecondRun, imported)
    }

    func testJSONLinesAreImportedWhateverTheExtension() async throws {
        let topic = "jsonl-\(UUID().uuidString.prefix(8))"
        let path = try file("books.txt", """
            {"title": "First", "topic": "\(topic)", "price": 1, "stock": 1}

            {"stock": 2, "price": 2.25, "topic": "\(topic)", "title": "Second \\"quoted\\""}

            """)
        let (status, output) = try stack.ctl("import", path)
        XCTAssertEqual(status, 0, output)
        let imported = try await books(of: topic)
        XCTAssertEqual(imported.map(fields), [["First", topic, "1.0", "1"], ["Second \"quoted\"", topic, "2.25", "2"]])
    }

    func testABadLineImportsNothingAndNamesTheLine() async throws {
        let topic = "badline-\(UUID().uuidString.prefix(8))"
        let csv = try file("bad.csv", """
            title,topic,price,stock
            Good,\(topic),1,1
            "Broken
            title",\(topic),1,1
            Negative,\(topic),-3,1
            Fraction,\(topic),1,2.5

            """)
        let (status, output) = try stack.ctl("import", csv)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("bad.csv:3: title must be printable; it holds U+000A"), output)
        XCTAssertTrue(output.contains("bad.csv:5: price must be a number from 0.01 to 1000000000"), output)
        XCTAssertTrue(output.contains("bad.csv:6: stock must be an integer"), output)
        XCTAssertTrue(lastLine(output).hasPrefix("bazarctl import: \(csv):3: title must be printable"), output)
        XCTAssertTrue(lastLine(output).hasSuffix("3 bad lines in \(csv), nothing was imported"), output)
        let jsonl = try file("bad.jsonl", """
            {"title": "Good", "topic": "\(topic)", "price": 1, "stock": 1}
            {"title": "Extra", "topic": "\(topic)", "price": 1, "stock": 1, "isbn": "x"}
            {"title": "", "topic": "\(topic)", "price": 1, "stock": 1}
            not json

            """)
        let (jsonStatus, jsonOutput) = try stack.ctl("import", jsonl)
        XCTAssertNotEqual(jsonStatus, 0)
        XCTAssertTrue(jsonOutput.contains("bad.jsonl:2: unknown key \"isbn\""), jsonOutput)
        XCTAssertTrue(jsonOutput.contains("bad.jsonl:3: title must be 1 to 200 characters"), jsonOutput)
        XCTAssertTrue(jsonOutput.contains("bad.jsonl:4: not JSON"), jsonOutput)
        let header = try file("header.csv", "name,topic,price,stock\nx,\(topic),1,1\n")
        let (headerStatus, headerOutput) = try stack.ctl("import", header)
        XCTAssertNotEqual(headerStatus, 0)
        XCTAssertTrue(headerOutput.contains("header.csv:1: the header must name title, topic, price and stock"), headerOutput)
        let imported = try await books(of: topic)
        XCTAssertEqual(imported, [], "nothing of a file with a bad line is imported")
    }

    /// On a terminal the progress line is redrawn in place (`\r`), then the summary follows.
    func testProgressIsDrawnOnATerminal() async throws {
        let topic = "tty-\(UUID().uuidString.prefix(8))"
        let lines = (1...2_500).map { "Book \($0),\(topic),1.5,\($0 % 7)" }
        let path = try file("many.csv", "title,topic,price,stock\n" + lines.joined(separator: "\n") + "\n")
        let command = "\(Stack.repository.appendingPathComponent("nginx/bazarctl").path) import \(path)"
        let (status, output) = try stack.run("/usr/bin/script", ["-qec", command, "/dev/null"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("\rimporting \(path): 2,500 of 2,500 books"), output)
        XCTAssertTrue(output.contains("2,500 books added"), output)
        let listed = try await client.searchIDs(topic)
        XCTAssertEqual(listed.count, 2_500)
    }

    /// A file whose books pass the check but one: nothing is imported, and the run ends with one
    /// line naming that line, whatever the fault (no traceback).
    func testAFileThatFailsTheCheckImportsNothingAndEndsInOneLine() async throws {
        let topic = "onebad-\(UUID().uuidString.prefix(8))"
        let good = (1...3_000).map { #"{"title": "Book \#($0)", "topic": "\#(topic)", "price": 1.5, "stock": 1}"# }
        let cases: [(String, String, String)] = [
            ("surrogate.jsonl", #"{"title": "bad \ud800", "topic": "\#(topic)", "price": 1, "stock": 1}"#,
             ":3001: title must be printable; it holds U+D800"),
            ("nested.jsonl", String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000), ":3001: not a book (nested too deeply)"),
            ("long.jsonl", #"{"title": "\#(String(repeating: "x", count: 70_000))"}"#, ":3001: a book longer than 64 KiB"),
            ("tiny.jsonl", #"{"title": "a", "topic": "\#(topic)", "price": 5e-324, "stock": 1}"#,
             ":3001: price must be a number from 0.01 to 1000000000"),
        ]
        for (name, line, expected) in cases {
            let path = try file(name, (good + [line]).joined(separator: "\n") + "\n")
            let (status, output) = try stack.ctl("import", path)
            XCTAssertEqual(status, 1, output)
            XCTAssertFalse(output.contains("Traceback"), output)
            XCTAssertTrue(lastLine(output).hasPrefix("bazarctl import: \(path)\(expected)"), output.suffix(400).description)
        }
        var notUTF8 = Data((good.prefix(10).joined(separator: "\n") + "\n").utf8)
        notUTF8.append(contentsOf: [0x7B, 0xFF, 0x7D, 0x0A])
        let binary = try stack.variables.appendingPathComponent("binary-\(UUID().uuidString.prefix(6)).jsonl")
        try notUTF8.write(to: binary)
        for (path, expected) in [(binary.path, "\(binary.path):11: not UTF-8"), ("/dev/zero", "/dev/zero: not a regular file")] {
            let (status, output) = try stack.ctl("import", path)
            XCTAssertEqual(status, 1, output)
            XCTAssertEqual(output.split(separator: "\n").count, 1, output)
            XCTAssertTrue(lastLine(output).hasPrefix("bazarctl import: \(expected)"), output)
        }
        let imported = try await titles(of: topic)
        XCTAssertEqual(imported, [], "nothing of a file with a bad line is imported")
    }

    /// The import's check is the server's: each line here is refused by the one exactly when it
    /// is refused by the other (each is tried both ways: a one-line import, and `POST /books`).
    func testTheImportChecksBooksAsTheServerDoes() async throws {
        let topic = "same-\(UUID().uuidString.prefix(8))"
        func line(title: String = "T", price: String = "1") -> String {
            #"{"title": "\#(title)", "topic": "\#(topic)", "price": \#(price), "stock": 1}"#
        }
        let cases: [(String, Bool)] = [
            (line(), true), (line(title: "caf\\u00e9 \\ud83d\\udcda \\u05e9\\u05dc\\u05d5\\u05dd"), true),
            (line(title: "e\\u0301"), true), (line(title: "a\\u3000b"), true), (line(title: String(repeating: "\\ud83d\\ude00", count: 200)), true),
            (line(title: String(repeating: "y", count: 201)), false), (line(title: "zero\\u200bwidth"), false),
            (line(title: "\\u202etxt.exe"), false), (line(title: "a\\ufffe"), false), (line(title: "a\\ue000"), false),
            (line(title: "a\\u2028b"), false), (line(title: "\\u00ad"), false), (line(title: "a\\u0378"), false),
            (line(title: " "), false), (line(title: " a"), false), (line(title: "a\\u00a0"), false), (line(title: "bad \\ud800"), false),
            (line(title: "tab\\there"), false), (line(price: "0.01"), true), (line(price: "1e9"), true), (line(price: "1000000000.01"), false),
            (line(price: "5e-324"), false), (line(price: "0.009"), false), (line(price: "1e12"), false), (line(price: "-1"), false),
            (line(price: "\"3\""), false), (line(price: "1E2"), true),
        ]
        for (index, (book, accepted)) in cases.enumerated() {
            let path = try file("case\(index).jsonl", book + "\n")
            let (status, output) = try stack.ctl("import", path)
            XCTAssertEqual(status == 0, accepted, "import of \(book): \(output)")
            let answer = try await client.addBooks(book)
            XCTAssertEqual(answer.status == 201, accepted, "POST /books of \(book): \(answer.status)")
        }
    }

    /// The stack refuses a request for good midway (here: its Idempotency-Key was already used,
    /// with other books): the import stops with one line naming the refused line and exactly
    /// the lines that were imported, and running it again adds no book twice.
    func testAStopMidwayNamesExactlyTheLinesImported() async throws {
        let topic = "midway-\(UUID().uuidString.prefix(8))"
        let path = try file("midway.jsonl", (1...3_000).map {
            #"{"title": "Book \#($0)", "topic": "\#(topic)", "price": 2.5, "stock": 1}"#
        }.joined(separator: "\n") + "\n")
        let (_, sum) = try stack.run("/usr/bin/sha256sum", [path])
        let key = "import-\(sum.prefix(24))-2"
        let squatter = try await client.addBooks(#"{"title": "Squatter", "topic": "squat-\#(topic)", "price": 1, "stock": 1}"#,
                                                 headers: ["Idempotency-Key": key])
        XCTAssertEqual(squatter.status, 201)
        let (status, output) = try stack.ctl("import", path)
        XCTAssertEqual(status, 1, output)
        let last = lastLine(output)
        XCTAssertTrue(last.hasPrefix("bazarctl import: \(path):"), output)
        XCTAssertTrue(last.contains("This Idempotency-Key was already used to add other books."), last)
        let spans = try XCTUnwrap(last.components(separatedBy: "imported: lines ").dropFirst().first?.components(separatedBy: " (").first)
        var claimed = Set<String>()
        for span in spans.components(separatedBy: ", ") {
            let ends = span.split(separator: "-").compactMap { Int($0) }
            for number in ends[0]...(ends.last ?? ends[0]) { claimed.insert("Book \(number)") }
        }
        let imported = try await titles(of: topic)
        XCTAssertEqual(Set(imported), claimed, last)
        XCTAssertLessThan(imported.count, 3_000)
        let refusedLine = try XCTUnwrap(Int(last.dropFirst("bazarctl import: \(path):".count).prefix { $0.isNumber }))
        XCTAssertFalse(claimed.contains("Book \(refusedLine)"), last)
        _ = try stack.ctl("import", path)
        let again = try await titles(of: topic)
        XCTAssertEqual(again.count, Set(again).count, "no book added twice")
        XCTAssertTrue(Set(again).isSuperset(of: claimed))
    }
}
