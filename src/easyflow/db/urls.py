"""Turn the plain `postgresql://` URLs users write into the driver URLs SQLAlchemy needs."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url


def sqlalchemy_url(url: str) -> URL:
    """`postgresql://user@/db?host=/socket` and friends, as a psycopg 3 SQLAlchemy URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername="postgresql+psycopg")


def redacted(url: str | URL) -> str:
    """The URL with its password hidden, fit for logs and error messages."""
    return make_url(url).render_as_string(hide_password=True)


def psycopg_conninfo(url: str) -> str:
    """The URL as plain psycopg (procrastinate, LISTEN connections) takes it, password included."""
    return sqlalchemy_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
