import Front
import Launch

/// bazar-front: the public API's FastCGI responder, with the read cache.
Launch.serve("bazar-front", flags: FrontTier.flags, FrontTier.make)
