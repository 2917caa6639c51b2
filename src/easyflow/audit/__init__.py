"""The audit log: who did what to a tenant's account, kept append-only."""
