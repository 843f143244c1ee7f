import BazarCore
import HTTPMessages
import XCTest

/// The write identity headers are decoded once for every route that takes them: a needed one
/// missing (or empty) is a 400 naming it; an attempt not needed defaults to the key, a key not
/// needed is a new one.
final class WriteIdentityHeadersTests: XCTestCase {
    private func request(_ headers: [String: String]) -> Request {
        Request(method: "POST", path: "/catalog-primary/take/1", headers: headers, isInternal: true)
    }

    private func message(_ headers: [String: String], _ needed: WriteIdentity.Needed) -> String? {
        do throws(APIError) {
            _ = try WriteIdentity.decode(request(headers), needing: needed)
            return nil
        } catch {
            XCTAssertEqual(error.status, 400)
            return error.message
        }
    }

    func testANeededHeaderMissingOrEmptyIs400NamingIt() {
        XCTAssertEqual(message([:], .key), "X-Bazar-Key is required.")
        XCTAssertEqual(message([WriteIdentity.keyHeader: ""], .key), "X-Bazar-Key is required.")
        XCTAssertEqual(message([:], .keyAndAttempt), "X-Bazar-Key is required.")
        XCTAssertEqual(message([WriteIdentity.keyHeader: "k"], .keyAndAttempt), "X-Bazar-Attempt is required.")
        XCTAssertEqual(message([WriteIdentity.keyHeader: "k", WriteIdentity.attemptHeader: ""], .keyAndAttempt),
                       "X-Bazar-Attempt is required.")
    }

    func testGivenHeadersAreTheIdentityAndMissingOnesDefault() throws {
        let both = [WriteIdentity.keyHeader: "k", WriteIdentity.attemptHeader: "a"]
        for needed: WriteIdentity.Needed in [.nothing, .key, .keyAndAttempt] {
            let identity = try WriteIdentity.decode(request(both), needing: needed)
            XCTAssertEqual([identity.key, identity.attempt], ["k", "a"])
        }
        let keyOnly = try WriteIdentity.decode(request([WriteIdentity.keyHeader: "k"]), needing: .key)
        XCTAssertEqual([keyOnly.key, keyOnly.attempt], ["k", "k"], "the attempt defaults to the key")
        let first = try WriteIdentity.decode(request([:]), needing: .nothing)
        let second = try WriteIdentity.decode(request([WriteIdentity.keyHeader: ""]), needing: .nothing)
        XCTAssertFalse(first.key.isEmpty)
        XCTAssertEqual(first.attempt, first.key)
        XCTAssertNotEqual(first.key, second.key, "a key not given is a new one each time")
    }
}
