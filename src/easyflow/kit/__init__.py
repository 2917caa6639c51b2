"""Shared plumbing every domain uses: errors, problem+json, middleware, security primitives."""
