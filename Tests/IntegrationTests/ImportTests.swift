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

    private func fields(_ book: JSONValue) -> [String] {
        [book["title"].string ?? "", book["topic"].string ?? "", "\(book["price"].double ?? 0)", "\(book["stock"].int ?? -1)"]
    }

    func testCSVWithQuotingIsImported() async throws {
        let topic = "csv-\(UUID().uuidString.prefix(8))"
        let path = try file("books.csv", """
            stock,title,topic,price\r
            3,"Commas, ""quotes"" and more",\(topic),12.5\r
            0,Ünïcödé ✓ title,\(topic),7\r
            10,"  spaces kept  ",\(topic),0.99\r

            """)
        let (status, output) = try stack.ctl("import", path)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("3 books added"), output)
        XCTAssertFalse(output.contains("\r"), "no progress line when stdout is not a terminal")
        let imported = try await books(of: topic)
        XCTAssertEqual(imported.map(fields), [["Commas, \"quotes\" and more", topic, "12.5", "3"],
                                              ["Ünïcödé ✓ title", topic, "7.0", "0"],
                                              ["  spaces kept  ", topic, "0.99", "10"]])
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
        XCTAssertTrue(output.contains("bad.csv:3: title must not hold a control character"), output)
        XCTAssertTrue(output.contains("bad.csv:5: price must be a number greater than 0"), output)
        XCTAssertTrue(output.contains("bad.csv:6: stock must be an integer"), output)
        XCTAssertTrue(output.contains("3 bad lines") && output.contains("nothing was imported"), output)
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
}
