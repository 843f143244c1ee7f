import BazarCore
import Foundation
@testable import Store
import XCTest

extension StoreIdentity {
    /// The identity the unit tests open their stores under.
    static let test = StoreIdentity(deployment: Deployment.id(secret: "unit-test-secret-0123456789"), replica: "test")
}

/// A store knows whose it is: another deployment's or another replica's is moved aside, never used.
final class StoreIdentityTests: XCTestCase {
    private var directory: URL!

    override func setUp() {
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("identity-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    func testAStoreOfAnotherDeploymentIsMovedAsideAndTheNewOneStartsEmpty() throws {
        let path = directory.appendingPathComponent("catalog.db").path
        let other = StoreIdentity(deployment: Deployment.id(secret: "another-deployment-secret"), replica: "test")
        try CatalogStore(path: path, identity: other).apply([Book(id: 1, title: "t", topic: "x", price: 1, stock: 1, version: 9)], applied: 9)
        XCTAssertEqual(try CatalogStore(path: path, identity: other).applied(), 9, "its own store is kept")
        XCTAssertEqual(try CatalogStore(path: path, identity: .test).applied(), 0, "another deployment's store is not used")
        let aside = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("catalog.db.foreign-") }
        XCTAssertFalse(aside.isEmpty, "the foreign store is kept aside, not deleted")
    }

    func testAStoreOfAnotherReplicaIsMovedAside() throws {
        let path = directory.appendingPathComponent("orders.db").path
        let other = StoreIdentity(deployment: StoreIdentity.test.deployment, replica: "order-2")
        _ = try OrderStore(path: path, identity: other).acknowledge(through: 5)
        XCTAssertEqual(try OrderStore(path: path, identity: .test).acknowledgedThrough(), 0)
    }

    func testDeploymentIDsDifferPerSecretAndHideIt() {
        let id = Deployment.id(secret: "some-secret-of-sixteen")
        XCTAssertEqual(id, Deployment.id(secret: "some-secret-of-sixteen"))
        XCTAssertNotEqual(id, Deployment.id(secret: "some-secret-of-sixteeN"))
        XCTAssertEqual(id.count, 16)
        XCTAssertFalse(id.contains("secret"))
    }
}
