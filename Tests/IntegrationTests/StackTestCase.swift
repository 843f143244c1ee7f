import Foundation
import XCTest

/// A test class that shares one real stack among its tests; subclasses may pass environment.
class StackTestCase: XCTestCase {
    nonisolated(unsafe) private static var stacks: [ObjectIdentifier: Stack] = [:]

    /// Environment for this class's stack.
    class var stackEnvironment: [String: String] { [:] }

    override class func setUp() {
        super.setUp()
        do {
            stacks[ObjectIdentifier(self)] = try Stack(stackEnvironment)
        } catch {
            XCTFail("the stack did not start: \(error)")
        }
    }

    override class func tearDown() {
        stacks.removeValue(forKey: ObjectIdentifier(self))?.stop()
        super.tearDown()
    }

    var stack: Stack {
        get throws {
            guard let stack = Self.stacks[ObjectIdentifier(type(of: self))] else { throw StackError.startFailed("no stack") }
            return stack
        }
    }

    var client: HTTPClient { get throws { try stack.client } }

    /// curl against the public listener with raw arguments; returns the status and body.
    func curl(_ arguments: String...) throws -> (Int, JSONValue) {
        let stack = try stack
        let (_, output) = try stack.run("/usr/bin/curl", ["-s", "-g", "-o", "-", "-w", "\n%{http_code}", "--path-as-is"]
            + arguments.map { $0.replacingOccurrences(of: "BASE", with: stack.client.base) })
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.last ?? "") ?? 0
        let body = lines.dropLast().joined(separator: "\n")
        let json = (try? JSONSerialization.jsonObject(with: Data(body.utf8), options: [.fragmentsAllowed])).map(JSONValue.init) ?? .null
        return (status, json)
    }
}
