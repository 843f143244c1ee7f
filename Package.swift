// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Bazar",
    products: [
        .executable(name: "bazar-front", targets: ["Front"]),
        .executable(name: "bazar-catalog", targets: ["Catalog"]),
        .executable(name: "bazar-order", targets: ["Order"]),
    ],
    targets: [
        // C stays here: libfcgi and sqlite3 as system libraries.
        .systemLibrary(name: "CFastCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // A small FastCGI responder library: request, response, serve loop.
        .target(name: "FastCGI", dependencies: ["CFastCGI"]),
        // Domain code shared by the tiers: JSON, books, orders, errors, routing, internal HTTP.
        .target(name: "BazarCore", dependencies: ["FastCGI"]),
        // SQLite persistence for the catalog and order replicas.
        .target(name: "Store", dependencies: ["CSQLite", "BazarCore"]),
        // The tiers.
        .executableTarget(name: "Front", dependencies: ["FastCGI", "BazarCore"]),
        .executableTarget(name: "Catalog", dependencies: ["FastCGI", "BazarCore", "Store"]),
        .executableTarget(name: "Order", dependencies: ["FastCGI", "BazarCore", "Store"]),
        .testTarget(name: "UnitTests", dependencies: ["FastCGI", "BazarCore", "Store", "Front", "Catalog", "Order"]),
        .testTarget(name: "IntegrationTests", dependencies: ["BazarCore"]),
    ]
)
