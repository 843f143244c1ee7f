// swift-tools-version:6.0
import PackageDescription

// The module graph, from the bottom up:
//   CFastCGI, CSQLite       the only C: libfcgi and sqlite3 as system libraries, and
//   CProcess                prctl (variadic) for the tiers' undumpable processes
//   HTTPMessages            Request and Response as plain values
//   SystemCalls             the POSIX calls the transports make, each checked once, with errno
//   Basics                  what any server needs: JSON, the log, metrics, flags, a monotonic clock
//   FastCGI                 the responder: libfcgi's accept loop → Request → handler → Response
//   InternalHTTP            the HTTP/1.1 client the tiers call each other with
//   BazarCore               the domain: books, orders, updates, errors, paths, pages, write identities
//   Store                   SQLite persistence for the catalog and order replicas
//   TierCalls               the tiers' calls to each other: timeouts, write outcomes, settling
//   Front, Catalog, Order   each tier's routes and logic: a handler from Request to Response
//   Launch                  what the mains share: flags → tier → FastCGI server
//   bazar-front, …          each tier's main.swift, one line
//   Simulation              the replication protocol's decisions driven by a seeded simulator
//   bazar-simulate          runs seeds of it and checks API.md's promises (docs/simulation.md)
let package = Package(
    name: "Bazar",
    products: [
        .executable(name: "bazar-front", targets: ["bazar-front"]),
        .executable(name: "bazar-catalog", targets: ["bazar-catalog"]),
        .executable(name: "bazar-order", targets: ["bazar-order"]),
        .executable(name: "bazar-simulate", targets: ["bazar-simulate"]),
    ],
    targets: [
        .systemLibrary(name: "CFastCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CProcess"),
        .target(name: "HTTPMessages"),
        .target(name: "SystemCalls"),
        .target(name: "Basics", dependencies: ["HTTPMessages", "SystemCalls"]),
        .target(name: "FastCGI", dependencies: ["Basics", "CFastCGI", "HTTPMessages", "SystemCalls"]),
        .target(name: "InternalHTTP", dependencies: ["HTTPMessages", "SystemCalls"]),
        .target(name: "BazarCore", dependencies: ["Basics", "HTTPMessages", "SystemCalls"]),
        .target(name: "Wire", dependencies: ["Basics", "BazarCore", "HTTPMessages"]),
        .target(name: "Store", dependencies: ["CSQLite", "BazarCore", "SystemCalls"]),
        .target(name: "TierCalls", dependencies: ["BazarCore", "InternalHTTP", "Wire"]),
        .target(name: "Front", dependencies: ["BazarCore", "HTTPMessages", "InternalHTTP", "SystemCalls", "TierCalls", "Wire"]),
        .target(name: "Catalog", dependencies: ["BazarCore", "HTTPMessages", "InternalHTTP", "Store", "TierCalls", "Wire"]),
        .target(name: "Order", dependencies: ["BazarCore", "HTTPMessages", "InternalHTTP", "Store", "TierCalls", "Wire"]),
        .target(name: "Launch", dependencies: ["BazarCore", "CProcess", "FastCGI", "HTTPMessages", "Store", "SystemCalls"]),
        .executableTarget(name: "bazar-front", dependencies: ["Front", "Launch"]),
        .executableTarget(name: "bazar-catalog", dependencies: ["Catalog", "Launch"]),
        .executableTarget(name: "bazar-order", dependencies: ["Order", "Launch"]),
        .target(name: "Simulation", dependencies: ["Basics", "BazarCore", "TierCalls", "Wire", "Front", "Catalog", "Order"]),
        .executableTarget(name: "bazar-simulate", dependencies: ["Simulation"]),
        .testTarget(name: "UnitTests",
                    dependencies: ["Basics", "HTTPMessages", "FastCGI", "InternalHTTP", "BazarCore", "Store", "TierCalls", "Wire", "Front", "Catalog", "Order",
                                   "Simulation"]),
        .testTarget(name: "IntegrationTests", dependencies: ["BazarCore"]),
    ]
)
