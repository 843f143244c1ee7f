import Foundation
import XCTest

/// `POST /books` through the real stack: validated, keyed like a purchase, replicated, and
/// dropping the cached search of its topic before it answers.
final class BookAdditionTests: StackTestCase {
    /// A topic no other test uses.
    private func freshTopic(_ name: String) -> String { "\(name)-\(UUID().uuidString.prefix(8).lowercased())" }

    func testAnAdditionIs201WithTheNewBookReadableAtOnce() async throws {
        let client = try client
        let topic = freshTopic("added")
        let answer = try await client.addBooks(#"{"title": "Paxos Made Simple", "topic": "\#(topic)", "price": 12.5, "stock": 3}"#)
        XCTAssertEqual(answer.status, 201)
        XCTAssertEqual(answer.header("Content-Type"), "application/json; charset=utf-8")
        XCTAssertNotNil(answer.header("Idempotency-Key"), "an addition names the key it ran under, as a purchase does")
        let book = answer.json
        XCTAssertEqual(book.keys, ["id", "title", "topic", "price", "stock", "version"])
        XCTAssertEqual(book["title"].string, "Paxos Made Simple")
        XCTAssertEqual(book["topic"].string, topic)
        XCTAssertEqual(book["price"].double, 12.5)
        XCTAssertEqual(book["stock"].int, 3)
        let id = try XCTUnwrap(book["id"].int)
        XCTAssertGreaterThan(id, 7)
        XCTAssertGreaterThan(book["version"].int ?? 0, 0)
        let info = try await client.get("/info/\(id)")
        XCTAssertEqual(info.status, 200)
        XCTAssertEqual(info.json, book)
        // A trailing slash answers as without it; the new book can be bought.
        let again = try await client.send("POST", "/books/", headers: ["Authorization": "Bearer \(Stack.adminToken)"],
                                          body: Data(#"{"title":"Raft","topic":"\#(topic)","price":1,"stock":1}"#.utf8))
        XCTAssertEqual(again.status, 201)
        XCTAssertEqual(again.json["id"].int, id + 1)
        let stockAfterPurchase = try await client.send("POST", "/purchase/\(id)").json["book"]["stock"].int
        XCTAssertEqual(stockAfterPurchase, 2)
    }

    func testAnArrayAddsEveryBookInOrder() async throws {
        let client = try client
        let topic = freshTopic("list")
        let answer = try await client.addBooks("[" + (1...3).map { #"{"title":"Volume \#($0)","topic":"\#(topic)","price":\#($0),"stock":0}"# }
            .joined(separator: ",") + "]")
        XCTAssertEqual(answer.status, 201)
        let books = answer.json["books"].array
        XCTAssertEqual(books.map { $0["title"].string ?? "" }, ["Volume 1", "Volume 2", "Volume 3"])
        let ids = books.compactMap { $0["id"].int }
        XCTAssertEqual(ids, ids.sorted())
        let listed = try await client.searchIDs(topic)
        XCTAssertEqual(listed, ids)
    }

    func testBadAdditionsAre400JSONAndChangeNothing() async throws {
        let client = try client
        let stack = try stack
        let topic = freshTopic("bad")
        let before = try await stack.waitUntilLevel()
        let long = String(repeating: "x", count: 201)
        for body in [#"{"title":"a","topic":"\#(topic)","price":1,"stock":1,"isbn":"0-00"}"#,   // an unknown key
                     #"{"title":"","topic":"\#(topic)","price":1,"stock":1}"#,                   // an empty title
                     #"{"title":"a","topic":"","price":1,"stock":1}"#,                           // an empty topic
                     #"{"title":"\#(long)","topic":"\#(topic)","price":1,"stock":1}"#,           // 201 characters
                     #"{"title":"line\nbreak","topic":"\#(topic)","price":1,"stock":1}"#,        // control characters
                     #"{"title":"bell\u0007","topic":"\#(topic)","price":1,"stock":1}"#,
                     #"{"title":"a","topic":"tab\there","price":1,"stock":1}"#,
                     #"{"title":"a","topic":"\#(topic)","price":0,"stock":1}"#,                  // price <= 0
                     #"{"title":"a","topic":"\#(topic)","price":-2.5,"stock":1}"#,
                     #"{"title":"a","topic":"\#(topic)","price":"3","stock":1}"#,
                     #"{"title":"a","topic":"\#(topic)","price":1,"stock":-1}"#,                 // negative stock
                     #"{"title":"a","topic":"\#(topic)","price":1,"stock":1.5}"#,
                     #"{"title":"a","topic":"\#(topic)","price":1}"#,                            // a missing key
                     #"[]"#, "not json", #"[{"title":"a","topic":"\#(topic)","price":1,"stock":1}, 7]"#] {
            let answer = try await client.addBooks(body)
            XCTAssertEqual(answer.status, 400, body)
            XCTAssertEqual(answer.errorCode, "bad_request", body)
            XCTAssertFalse((answer.json["error"]["message"].string ?? "").isEmpty, body)
        }
        let listed = try await client.searchIDs(topic)
        XCTAssertEqual(listed, [])
        let replicasAfter = try await stack.waitUntilLevel()["replicas"]
        XCTAssertEqual(replicasAfter, before["replicas"], "a refused addition wrote nothing")
    }

    func testAdditionsNeedTheAdminTokenAndASmallBody() async throws {
        let client = try client
        let stack = try stack
        let topic = freshTopic("token")
        let body = #"{"title":"a","topic":"\#(topic)","price":1,"stock":1}"#
        let anonymous = try await client.send("POST", "/books", body: Data(body.utf8))
        XCTAssertEqual(anonymous.status, 401)
        XCTAssertEqual(anonymous.errorCode, "unauthorized")
        let wrongToken = try await client.addBooks(body, token: "wrong").status
        XCTAssertEqual(wrongToken, 401)
        let huge = "[" + Array(repeating: body, count: 1_400).joined(separator: ",") + "]"
        XCTAssertGreaterThan(huge.utf8.count, 64 * 1024)
        let tooLarge = try await client.addBooks(huge)
        XCTAssertEqual(tooLarge.status, 413)
        XCTAssertEqual(tooLarge.errorCode, "payload_too_large")
        let get = try await client.get("/books")
        XCTAssertEqual(get.status, 405)
        XCTAssertEqual(get.header("Allow"), "POST")
        for path in ["/books", "/books/"] {   // nginx's own 405 names the route's method too
            let (_, head) = try stack.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-D", "-", "-X", "TRACE", "\(client.base)\(path)"])
            XCTAssertTrue(head.hasPrefix("HTTP/1.1 405"), head)
            XCTAssertTrue(head.lowercased().contains("allow: post\r\n"), head)
        }
        let listed = try await client.searchIDs(topic)
        XCTAssertEqual(listed, [])
    }

    func testAnIdempotencyKeyReplaysTheFirstBook() async throws {
        let client = try client
        let topic = freshTopic("keyed")
        let key = "add-\(UUID().uuidString)"
        let body = #"{"title":"Once","topic":"\#(topic)","price":5,"stock":5}"#
        let first = try await client.addBooks(body, headers: ["Idempotency-Key": key])
        XCTAssertEqual(first.status, 201)
        XCTAssertEqual(first.header("Idempotency-Key"), key)
        let replay = try await client.addBooks(body, headers: ["Idempotency-Key": key])
        XCTAssertEqual(replay.status, 201)
        XCTAssertEqual(replay.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(replay.json, first.json)
        let other = try await client.addBooks(#"{"title":"Twice","topic":"\#(topic)","price":5,"stock":5}"#,
                                              headers: ["Idempotency-Key": key])
        XCTAssertEqual(other.status, 400, "a key names one addition")
        let listed = try await client.searchIDs(topic)
        XCTAssertEqual(listed, [first.json["id"].int ?? 0])
    }

    func testANewBookReachesTheBackup() async throws {
        let stack = try stack
        let topic = freshTopic("replicated")
        let added = try await stack.client.addBooks(#"{"title":"Copied","topic":"\#(topic)","price":2,"stock":4}"#)
        XCTAssertEqual(added.status, 201)
        let id = try XCTUnwrap(added.json["id"].int)
        // Answered only once the backup holds it.
        let onBackup = JSONValue(try JSONSerialization.jsonObject(with: Data(try stack.internalGet("/catalog-2/info/\(id)").utf8)))
        XCTAssertEqual(onBackup, added.json)
        let search = JSONValue(try JSONSerialization.jsonObject(with: Data(try stack.internalGet("/catalog-2/search/\(topic)").utf8)))
        XCTAssertEqual(search["items"].array.compactMap { $0["id"].int }, [id])
    }

    /// The primary drops every cached page of the topic before it answers 201, so a cached
    /// search read right after it lists the new book (and its ETag changed).
    func testACachedSearchOfTheTopicShowsTheNewBookRightAfterThe201() async throws {
        let client = try client
        let stack = try stack
        let topic = freshTopic("cached")
        let first = try await client.addBooks(#"{"title":"First","topic":"\#(topic)","price":1,"stock":1}"#)
        let firstID = try XCTUnwrap(first.json["id"].int)
        for path in ["/search/\(topic)", "/search/\(topic.uppercased())?limit=1", "/search/\(topic)?after=\(firstID)"] {
            try await stack.warm(path)
        }
        let cached = try await client.get("/search/\(topic)")
        XCTAssertEqual(cached.header("X-Cache"), "HIT")
        let second = try await client.addBooks(#"{"title":"Second","topic":"\#(topic.uppercased())","price":1,"stock":1}"#)
        XCTAssertEqual(second.status, 201)
        let secondID = try XCTUnwrap(second.json["id"].int)
        let after = try await client.get("/search/\(topic)")
        XCTAssertEqual(after.json["items"].array.compactMap { $0["id"].int }, [firstID, secondID])
        XCTAssertNotEqual(after.header("ETag"), cached.header("ETag"))
        let firstPage = try await client.get("/search/\(topic)?limit=1")
        XCTAssertEqual(firstPage.json["next"].int, firstID, "the first page now has a next one")
        let lastPage = try await client.get("/search/\(topic)?after=\(firstID)")
        XCTAssertEqual(lastPage.json["items"].array.compactMap { $0["id"].int }, [secondID])
    }

    /// Titles and topics are printable (no format characters, noncharacters, private use, no
    /// space at either end) and prices lie from 0.01 to 10^9; each refusal names the rule.
    func testUnprintableTextAndAbsurdPricesAre400NamingTheRule() async throws {
        let client = try client
        let stack = try stack
        let topic = freshTopic("printable")
        let before = try await stack.waitUntilLevel()
        let cases = [(#"{"title":"zero\u200Bwidth","topic":"\#(topic)","price":1,"stock":1}"#, "title must be printable; it holds U+200B"),
                     (#"{"title":"\u202Efdp.exe","topic":"\#(topic)","price":1,"stock":1}"#, "title must be printable; it holds U+202E"),
                     (#"{"title":"a\uFFFE","topic":"\#(topic)","price":1,"stock":1}"#, "title must be printable; it holds U+FFFE"),
                     (#"{"title":" ","topic":"\#(topic)","price":1,"stock":1}"#, "title must not begin or end with a space"),
                     (#"{"title":"a","topic":"\#(topic) ","price":1,"stock":1}"#, "topic must not begin or end with a space"),
                     (#"{"title":"a","topic":"\#(topic)","price":5e-324,"stock":1}"#, "price must be a number from 0.01 to 1000000000."),
                     (#"{"title":"a","topic":"\#(topic)","price":1e12,"stock":1}"#, "price must be a number from 0.01 to 1000000000.")]
        for (body, message) in cases {
            let answer = try await client.addBooks(body)
            XCTAssertEqual(answer.status, 400, body)
            XCTAssertEqual(answer.errorCode, "bad_request", body)
            XCTAssertTrue((answer.json["error"]["message"].string ?? "").contains(message), "\(body): \(answer.json)")
        }
        let update = try await client.update(3, #"{"price": 1e12}"#)
        XCTAssertEqual(update.status, 400)
        XCTAssertEqual(update.json["error"]["message"].string, "price must be a number from 0.01 to 1000000000.")
        let listed = try await client.searchIDs(topic)
        XCTAssertEqual(listed, [])
        let replicasAfter = try await stack.waitUntilLevel()["replicas"]
        XCTAssertEqual(replicasAfter, before["replicas"], "a refused write wrote nothing")
    }

    /// An empty `Idempotency-Key:` names no key: the write runs under one the stack makes up
    /// and the answer names it, as for a write sent without the header.
    func testAnEmptyIdempotencyKeyIsNoKey() throws {
        let stack = try stack
        let topic = freshTopic("emptykey")
        for (path, extra) in [("/purchase/2", [String]()),
                              ("/books", ["-H", "Authorization: Bearer \(Stack.adminToken)",
                                          "-d", #"{"title":"Keyless","topic":"\#(topic)","price":2,"stock":1}"#])] {
            let (_, head) = try stack.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-D", "-", "-X", "POST", "-H", "Idempotency-Key;"]
                                          + extra + ["\(try client.base)\(path)"])
            XCTAssertTrue(head.hasPrefix("HTTP/1.1 20"), "\(path): \(head)")
            let key = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("idempotency-key:") }
            XCTAssertFalse((key?.dropFirst("idempotency-key:".count).trimmingCharacters(in: .whitespaces) ?? "").isEmpty,
                           "\(path) names the key it ran under: \(head)")
        }
    }
}
