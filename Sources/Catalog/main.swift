import BazarCore
import FastCGI
import Foundation
import Store

/// bazar-catalog: one catalog replica (primary or backup) as a FastCGI responder.
let arguments = Array(CommandLine.arguments.dropFirst())
do {
    let flags = try Flags(arguments)
    let name = try flags.string("name")
    let isPrimary = try flags.string("role") == "primary"
    let store = try CatalogStore(path: try flags.string("db"))
    let memory = CatalogMemory(books: try store.books(), applied: try store.applied())
    let client = InternalClient(socketPath: try flags.string("internal"))
    let role: CatalogRoutes.Role
    if isPrimary {
        let replicator = Replicator(client: client, backup: try flags.string("peer"), memory: memory)
        replicator.start()
        role = .primary(Primary(name: name, store: store, memory: memory,
                                invalidator: Invalidator(client: client), replicator: replicator))
    } else {
        let backup = Backup(store: store, memory: memory)
        backup.watchPrimary(try flags.string("peer"), client: client)
        role = .backup(backup)
    }
    let routes = CatalogRoutes(name: name, role: role, reads: CatalogReads(name: name, memory: memory))
    let options = ServerOptions(listen: try flags.listen(), threads: try flags.int("threads", default: 32, in: 1...1024))
    Log.info("\(name) starting as \(isPrimary ? "primary" : "backup") at applied \(memory.applied)")
    FastCGIServer.run(options) { routes.handle($0) }
} catch {
    Log.info("bazar-catalog: \(error)")
    exit(2)
}
