"""Human handoff: what operators do with conversations, who is there to take them, and the staff events."""
