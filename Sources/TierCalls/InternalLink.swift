import Basics
import BazarCore
import InternalHTTP

extension InternalClient {
    /// The client of a tier configured by `--internal` (nginx's internal listener: a socket path
    /// or `HOST:PORT`) and `--internal-secret-file`.
    public convenience init(flags: Flags) throws {
        self.init(InternalAddress(try flags.string("internal")), secret: try InternalSecret.load(flags))
    }
}
