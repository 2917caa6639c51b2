"""Use cases of connected channels: connect (validating with the platform), list, pause, re-route, remove."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.agents.repository import AssistantRepository
from easyflow.channels import schemas
from easyflow.channels.base import connectable
from easyflow.channels.repository import ChannelRepository
from easyflow.channels.widget import CHANNEL_TYPE as WIDGET
from easyflow.channels.widget import widget_config
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.models.channels import ChannelRecord, ChannelStatus

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)


ChannelCreate = (
    schemas.TelegramChannelCreate
    | schemas.ViberChannelCreate
    | schemas.VkChannelCreate
    | schemas.WidgetChannelCreate
    | schemas.WhatsAppChannelCreate
)


class ChannelConnections:
    """Connecting and removing a channel talks to its platform (Telegram checks the token and takes the
    webhook), which can take seconds: the database work is done in short transactions of its own around
    that call, never across it."""

    def __init__(self, runtime: Runtime, tenant_id: uuid.UUID) -> None:
        self.runtime = runtime
        self.database = runtime.database
        self.tenant_id = tenant_id

    async def connect(self, request: ChannelCreate) -> schemas.ChannelCreated:
        async with self.database.tenant_transaction(self.tenant_id) as session:
            await check_assistant(session, request.assistant_id)
        channel_id = uuid.uuid4()
        channel = connectable(request.type)
        connection = await channel.connect(self.runtime, channel_id, request)
        try:
            async with self.database.tenant_transaction(self.tenant_id) as session:
                await check_assistant(session, request.assistant_id)  # it may have gone while Telegram answered
                record = await ChannelRepository(session).add(
                    ChannelRecord(
                        id=channel_id,
                        type=request.type,
                        name=request.name
                        or connection.config.get("username")
                        or connection.config.get("verified_name")
                        or connection.config.get("name")
                        or request.type,
                        status=ChannelStatus.active,
                        assistant_id=request.assistant_id,
                        credentials_encrypted=self.runtime.secrets.encrypt(json.dumps(connection.credentials)),
                        config=connection.config,
                        public_key=connection.public_key,
                    )
                )
                read = schemas.ChannelRead.model_validate(record)
        except BaseException:  # a cancelled request too: no bot may stay pointed at a channel that is not there
            try:
                await channel.disconnect(self.runtime, channel_id, connection.credentials)
            except Exception as error:  # the first error is the one to report
                log.warning("channels.disconnect_after_failure_failed", error_type=type(error).__name__)
            raise
        return schemas.ChannelCreated(**read.model_dump(), **(connection.shown_once or {}))

    async def remove(self, channel_id: uuid.UUID) -> None:
        async with self.database.tenant_transaction(self.tenant_id) as session:
            record = await ChannelRepository(session).get(channel_id)
            if record is None:
                raise NotFound("No such channel in this tenant.")
            channel_type, credentials = record.type, credentials_of(record, self.runtime)
        await connectable(channel_type).disconnect(self.runtime, channel_id, credentials)
        async with self.database.tenant_transaction(self.tenant_id) as session:
            channels = ChannelRepository(session)
            record = await channels.get(channel_id)
            if record is not None:
                await channels.delete(record)


class ChannelService:
    """Reading and changing connected channels, in the request's transaction."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID, runtime: Runtime) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.runtime = runtime
        self.channels = ChannelRepository(session, tenant_id)

    async def get(self, channel_id: uuid.UUID) -> ChannelRecord:
        record = await self.channels.get(channel_id)
        if record is None:
            raise NotFound("No such channel in this tenant.")
        return record

    async def list(self, *, limit: int, offset: int) -> tuple[list[ChannelRecord], int]:
        return list(await self.channels.list(limit=limit, offset=offset)), await self.channels.count()

    async def update(self, channel_id: uuid.UUID, changes: schemas.ChannelUpdate) -> ChannelRecord:
        record = await self.get(channel_id)
        if "assistant_id" in changes.model_fields_set:
            await check_assistant(self.session, changes.assistant_id)
            record.assistant_id = changes.assistant_id
        if changes.name is not None:
            record.name = changes.name
        if changes.status is not None:
            record.status = changes.status
        if changes.widget is not None:
            if record.type != WIDGET:
                raise Unprocessable("widget: only widget channels have widget settings.")
            record.config = widget_config(changes.widget, record.config)
        await self.session.flush()
        return record


async def check_assistant(session: AsyncSession, assistant_id: uuid.UUID | None) -> None:
    if assistant_id is not None and await AssistantRepository(session).get(assistant_id) is None:
        raise Unprocessable("assistant_id: no such assistant in this tenant.")


def credentials_of(record: ChannelRecord, runtime: Runtime) -> dict[str, str]:
    if not record.credentials_encrypted:
        return {}
    credentials: dict[str, str] = json.loads(runtime.secrets.decrypt(record.credentials_encrypted))
    return credentials
