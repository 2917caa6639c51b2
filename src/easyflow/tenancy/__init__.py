"""Tenants, users, roles, API keys and authentication."""
