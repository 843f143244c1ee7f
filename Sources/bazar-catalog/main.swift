import Catalog
import Launch

/// bazar-catalog: one catalog replica (primary or backup) as a FastCGI responder.
Launch.serve("bazar-catalog", flags: CatalogTier.flags, CatalogTier.make)
