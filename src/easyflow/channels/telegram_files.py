"""Photos and documents customers send a Telegram bot, fetched in the background (getFile, then the file
download) and kept with the conversation, so operators have them after Telegram's links expire and an
assistant whose model sees pictures is shown them. The webhook stays fast: it only stores the message and
the job, which holds the conversation's lock ahead of the reply job. So that a Telegram outage cannot hold
the reply back for a retry schedule, a file that cannot be had after DOWNLOAD_ATTEMPTS is noted as not
stored, with the reason, and the reply goes ahead."""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import TYPE_CHECKING

import aiohttp
import structlog
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramNetworkError

from easyflow.channels.repository import ChannelRepository
from easyflow.channels.service import credentials_of
from easyflow.channels.telegram import bot_for
from easyflow.conversations.files import sniff_content_type
from easyflow.conversations.repository import ConversationFileRepository, ConversationRepository, MessageRepository
from easyflow.conversations.schemas import Attachment, attachments_of
from easyflow.kit.filetypes import OPAQUE
from easyflow.kit.jobs import job
from easyflow.models.conversations import ConversationFile

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)

FETCH_FILES_JOB = "channels.telegram_fetch_files"
# Bots may download files of up to 20 MB (https://core.telegram.org/bots/api#getfile).
BOT_DOWNLOAD_LIMIT = 20 * 1024 * 1024
DOWNLOAD_ATTEMPTS = 2
DOWNLOAD_TIMEOUT_SECONDS = 20


def needs_fetching(attachments: list[Attachment]) -> bool:
    return any(a.awaiting_file for a in attachments)


class TelegramFiles:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.database = runtime.database

    async def fetch(self, tenant_id: uuid.UUID, message_id: uuid.UUID) -> None:
        async with self.database.tenant_transaction(tenant_id) as session:
            message = await MessageRepository(session, tenant_id).get(message_id)
            conversation = (
                await ConversationRepository(session, tenant_id).get(message.conversation_id) if message else None
            )
            channel = (
                await ChannelRepository(session, tenant_id).get(uuid.UUID(conversation.channel_key))
                if conversation
                else None
            )
            if message is None or channel is None:
                return
            attachments = attachments_of(message.attachments)
            token = credentials_of(channel, self.runtime)["token"]
        fetched: list[ConversationFile] = []
        for attachment in attachments:
            if attachment.awaiting_file and attachment.stored_file_id is None:
                attachment.awaiting_file = False
                stored = await self._download(token, attachment)
                if stored is not None:
                    stored.conversation_id = message.conversation_id
                    attachment.stored_file_id = stored.id
                    fetched.append(stored)
        async with self.database.tenant_transaction(tenant_id) as session:
            for stored in fetched:
                await ConversationFileRepository(session, tenant_id).add(stored)
            await MessageRepository(session, tenant_id).set_attachments(message_id, [a.stored() for a in attachments])

    async def _download(self, token: str, attachment: Attachment) -> ConversationFile | None:
        """The file, or None with the reason noted on the attachment when it cannot be had."""
        if (attachment.size or 0) > BOT_DOWNLOAD_LIMIT:
            attachment.not_stored = "Telegram lets bots download files of up to 20 MB only."
            return None
        assert attachment.file_id is not None
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                async with bot_for(self.runtime, token) as bot:
                    described = await bot.get_file(attachment.file_id, request_timeout=DOWNLOAD_TIMEOUT_SECONDS)
                    if not described.file_path:
                        attachment.not_stored = "Telegram gave no download path for the file."
                        return None
                    buffer = io.BytesIO()
                    await bot.download_file(described.file_path, destination=buffer, timeout=DOWNLOAD_TIMEOUT_SECONDS)
                break
            except TelegramBadRequest as error:
                attachment.not_stored = f"Telegram refused the download: {error.message}"[:300]
                return None
            except (TelegramNetworkError, TelegramAPIError, aiohttp.ClientError, TimeoutError) as error:
                log.warning("telegram.file_download_failed", file_kind=attachment.kind, attempt=attempt)
                if attempt == DOWNLOAD_ATTEMPTS:
                    attachment.not_stored = f"Telegram could not be reached: {type(error).__name__}"
                    return None
                await asyncio.sleep(1.0)
        content = buffer.getvalue()
        name = attachment.name or f"{attachment.kind}.jpg"
        recognised = sniff_content_type(content)  # not the sender's claim: a "picture" must be one
        return ConversationFile(
            id=uuid.uuid4(),
            name=name[:255],
            content_type=recognised[0] if recognised else OPAQUE,
            size=len(content),
            content=content,
        )


@job(FETCH_FILES_JOB, lock="conversation:{conversation_id}", max_attempts=2)
async def fetch_telegram_files(
    runtime: Runtime, *, tenant_id: str, message_id: str, conversation_id: str | None = None
) -> None:
    await TelegramFiles(runtime).fetch(uuid.UUID(tenant_id), uuid.UUID(message_id))
