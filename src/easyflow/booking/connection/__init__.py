"""A tenant's connection to an external booking system, and the record webhooks that system sends."""
