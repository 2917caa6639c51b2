"""easyflow: self-hosted, multi-tenant AI assistants for small businesses."""

__version__ = "0.1.0"
