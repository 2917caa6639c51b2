"""Telegram long polling, for machines without a public https address: the worker asks Telegram for
updates instead of Telegram calling a webhook.

One process polls each bot (a PostgreSQL advisory lock per channel; Telegram refuses two concurrent
getUpdates for one bot). Each update is stored together with the new offset in one transaction, so a
crash re-reads at most updates that the `update_id` dedupe key then ignores.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING

import structlog
from aiogram.exceptions import (
    TelegramConflictError,
    TelegramNetworkError,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from sqlalchemy import text

from easyflow.channels.repository import ChannelDirectory, ChannelRepository
from easyflow.channels.service import credentials_of
from easyflow.channels.telegram import ALLOWED_UPDATES, TelegramChannel, bot_for
from easyflow.channels.webhooks import accept_or_set_aside
from easyflow.db.session import enter_system_scope, scope_to_tenant

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)

RESCAN_SECONDS = 15.0
LONG_POLL_SECONDS = 25
ERROR_PAUSE_SECONDS = 5.0


def _lock_key(channel_id: uuid.UUID) -> int:
    return int.from_bytes(channel_id.bytes[:8], "big", signed=True)


class TelegramPoller:
    def __init__(self, runtime: Runtime, *, long_poll_seconds: int = LONG_POLL_SECONDS) -> None:
        self.runtime = runtime
        self.long_poll_seconds = long_poll_seconds

    async def run(self) -> None:
        """Poll every active polling-mode bot until cancelled, noticing channels added or removed."""
        pollers: dict[uuid.UUID, asyncio.Task[None]] = {}
        try:
            while True:
                wanted = set(await self._polling_channels())
                for channel_id in list(pollers):
                    if channel_id not in wanted or pollers[channel_id].done():
                        pollers.pop(channel_id).cancel()
                for channel_id in wanted - set(pollers):
                    pollers[channel_id] = asyncio.create_task(self._poll_forever(channel_id))
                await asyncio.sleep(RESCAN_SECONDS)
        finally:
            for task in pollers.values():
                task.cancel()

    async def _polling_channels(self) -> list[uuid.UUID]:
        async with self.runtime.database.session() as session, session.begin():
            await enter_system_scope(session)
            return await ChannelDirectory(session).polling_telegram()

    async def _poll_forever(self, channel_id: uuid.UUID) -> None:
        async with self.runtime.database.engine.connect() as lock:
            key = {"key": _lock_key(channel_id)}
            if not (await lock.execute(text("SELECT pg_try_advisory_lock(:key)"), key)).scalar():
                return  # another process polls this bot
            try:
                while True:
                    try:
                        await self.poll_once(channel_id, wait_seconds=self.long_poll_seconds)
                    except TelegramUnauthorizedError:
                        log.warning("telegram.polling_token_refused", channel_id=str(channel_id))
                        return
                    except (TelegramNetworkError, TelegramServerError, TelegramConflictError) as error:
                        log.info("telegram.polling_error", channel_id=str(channel_id), error_type=type(error).__name__)
                        await asyncio.sleep(ERROR_PAUSE_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await lock.execute(text("SELECT pg_advisory_unlock(:key)"), key)

    async def poll_once(self, channel_id: uuid.UUID, *, wait_seconds: int = 0) -> int:
        """One getUpdates round: store each update with the next offset; the number of updates read."""
        async with self.runtime.database.session() as session, session.begin():
            await enter_system_scope(session)
            channel = await ChannelDirectory(session).get(channel_id)
            if channel is None:
                return 0
            token, offset = credentials_of(channel, self.runtime)["token"], int(channel.config.get("offset", 0))
        async with bot_for(self.runtime, token) as bot:
            updates = await bot.get_updates(
                offset=offset or None,
                timeout=wait_seconds,
                allowed_updates=ALLOWED_UPDATES,
                request_timeout=wait_seconds + 15,
            )
        for update in updates:
            async with self.runtime.database.session() as session, session.begin():
                await enter_system_scope(session)
                channel = await ChannelDirectory(session).get(channel_id)
                if channel is None:
                    return 0
                await scope_to_tenant(session, channel.tenant_id)
                callback = await accept_or_set_aside(session, channel, update)
                await ChannelRepository(session, channel.tenant_id).set_offset(channel_id, update.update_id + 1)
            if callback is not None:
                await TelegramChannel().answer_callback(self.runtime, token, callback)
        return len(updates)
