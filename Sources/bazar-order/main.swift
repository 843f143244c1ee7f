import Launch
import Order

/// bazar-order: one order replica as a FastCGI responder.
Launch.serve("bazar-order", flags: OrderTier.flags, OrderTier.make)
