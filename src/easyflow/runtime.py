"""What request handlers and background jobs share in one process: settings, the database, the
credential box, an HTTP client for outbound calls, and the knowledge retriever."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.kit.crypto import SecretBox
from easyflow.knowledge.retrieval import KnowledgeRetriever, NoKnowledge

OUTBOUND_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


@dataclass
class Runtime:
    settings: Settings
    database: Database
    secrets: SecretBox
    http: httpx.AsyncClient
    retriever: KnowledgeRetriever = field(default_factory=NoKnowledge)

    @classmethod
    def create(cls, settings: Settings, database: Database) -> Runtime:
        return cls(
            settings=settings,
            database=database,
            secrets=SecretBox.from_settings(settings),
            http=httpx.AsyncClient(timeout=OUTBOUND_TIMEOUT, follow_redirects=False),
        )

    async def close(self) -> None:
        await self.http.aclose()
