"""What request handlers and background jobs share in one process: settings, the database, the
credential box, an HTTP client for outbound calls, the embedding model, the knowledge retriever, the
live-event hub, the staff event streams and the API key cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.kit.crypto import SecretBox
from easyflow.kit.ratelimit import LimitStore, limit_store
from easyflow.knowledge.embeddings import Embedder, build_embedder
from easyflow.knowledge.retrieval import KnowledgeRetriever
from easyflow.knowledge.search import KnowledgeSearch
from easyflow.live.hub import LiveHub
from easyflow.live.staff import StaffHub
from easyflow.tenancy.keycache import ApiKeyCache

OUTBOUND_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


@dataclass
class Runtime:
    settings: Settings
    database: Database
    secrets: SecretBox
    http: httpx.AsyncClient
    embedder: Embedder | None
    retriever: KnowledgeRetriever
    live: LiveHub
    api_keys: ApiKeyCache
    staff: StaffHub
    # Rate-limit counters every process shares (Redis, or PostgreSQL without it).
    rate_limits: LimitStore
    # Long-lived clients that channels keep per process (e.g. one Telegram session per bot), closed with it.
    clients: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings, database: Database) -> Runtime:
        http = httpx.AsyncClient(timeout=OUTBOUND_TIMEOUT, follow_redirects=False)
        live = LiveHub(database.url)
        embedder = build_embedder(settings, http) if database.capabilities.vector_columns else None
        return cls(
            settings=settings,
            database=database,
            secrets=SecretBox.from_settings(settings),
            http=http,
            embedder=embedder,
            retriever=KnowledgeSearch.for_server(embedder, database.capabilities),
            live=live,
            api_keys=ApiKeyCache(live),
            staff=StaffHub(live, database),
            rate_limits=limit_store(settings, database),
        )

    async def close(self) -> None:
        for client in self.clients.values():
            await client.session.close()
        self.clients.clear()
        await self.live.close()
        await self.rate_limits.close()
        await self.http.aclose()
