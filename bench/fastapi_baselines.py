"""Bare FastAPI apps the benchmarks measure easyflow beside: what FastAPI itself costs for the same answer.

Each is an app factory for `uvicorn --factory`, configured by environment variables the benchmark sets:
- `tenant_json`: GET / answers BENCH_FASTAPI_BODY (the JSON easyflow's GET /api/v1/tenant gave), returned as a
  dict, so FastAPI serialises it as it does easyflow's answer; no middleware, no dependency, no database.
- `durable_insert`: POST / validates a message like the API channel's (contact, text, external id) and inserts
  one row into the scratch table `bench_raw_inserts` in its own committed transaction (the server's default
  `synchronous_commit`, so it waits for the WAL flush), through SQLAlchemy's async engine on psycopg, as
  easyflow does, with easyflow's default pool; answers 202 with the row's id.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, status
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from easyflow.config import Settings
from easyflow.db.urls import sqlalchemy_url

BODY_VARIABLE = "BENCH_FASTAPI_BODY"
DATABASE_VARIABLE = "BENCH_FASTAPI_DATABASE_URL"


def tenant_json() -> FastAPI:
    body: dict[str, Any] = json.loads(os.environ[BODY_VARIABLE])
    app = FastAPI()

    @app.get("/")
    async def answer() -> dict[str, Any]:
        return body

    return app


class Contact(BaseModel):
    external_id: str
    name: str | None = None


class Message(BaseModel):
    contact: Contact
    text: str
    external_message_id: str


def durable_insert() -> FastAPI:
    pool_size = Settings.model_fields["db_pool_size"].default
    engine = create_async_engine(sqlalchemy_url(os.environ[DATABASE_VARIABLE]), pool_size=pool_size, max_overflow=0)
    insert = text("INSERT INTO bench_raw_inserts (body) VALUES (:body) RETURNING id")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/", status_code=status.HTTP_202_ACCEPTED)
    async def accept(message: Message) -> dict[str, Any]:
        async with engine.begin() as connection:
            row_id = (await connection.execute(insert, {"body": message.text})).scalar_one()
        return {"message_id": str(row_id), "duplicate": False}

    return app
