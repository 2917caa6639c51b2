"""Database access: the embedded or external server, engines, tenant-scoped sessions, migrations."""
