"""Use cases of a website widget's visitors: open a chat session, read the conversation after a position,
send a message or a file. Every call names the widget by its public key and is checked against the
widget's allowed origins; everything after the session start needs the visitor's signed token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.channels import schemas
from easyflow.channels.repository import ChannelDirectory
from easyflow.channels.service import credentials_of
from easyflow.channels.widget import (
    CHANNEL_TYPE,
    SITE_USER_IDENTITY,
    VisitorIdentity,
    anonymous_visitor,
    issue_visitor_token,
    origin_allowed,
    read_visitor_token,
    signature_valid,
)
from easyflow.conversations.accept import ChannelRef, Inbound, InboundService
from easyflow.conversations.files import chat_file
from easyflow.conversations.repository import (
    ContactRepository,
    ConversationFileRepository,
    ConversationRepository,
    MessageRepository,
)
from easyflow.conversations.schemas import Attachment, attachments_of
from easyflow.db.session import enter_system_scope, scope_to_tenant
from easyflow.kit.errors import Conflict, Forbidden, NotFound, Unauthorized
from easyflow.kit.schemas import NUL
from easyflow.kit.security import sha256_hex
from easyflow.models.channels import ChannelRecord, ChannelStatus
from easyflow.models.conversations import ConversationFile, Message, MessageRole

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

HISTORY_PAGE = 200
ROLES_SHOWN = {MessageRole.contact: "visitor", MessageRole.assistant: "assistant", MessageRole.operator: "operator"}


@dataclass(frozen=True)
class Visitor:
    channel: ChannelRecord
    identity: VisitorIdentity


def _visitor_tag(visitor: Visitor) -> str:
    """Scopes a client_id to its visitor: another visitor choosing the same id sends another message."""
    return sha256_hex(f"{visitor.identity.kind}:{visitor.identity.external_id}")[:16]


def widget_message(message: Message, author: str | None = None) -> schemas.WidgetMessage:
    return schemas.WidgetMessage(
        id=message.id,
        position=message.position,
        role=ROLES_SHOWN[message.role],
        author=author if message.role == MessageRole.operator else None,
        client_id=message.external_id.rsplit(":", 1)[-1]
        if message.role == MessageRole.contact and message.external_id
        else None,
        text=message.text,
        buttons=message.buttons,
        attachments=[
            schemas.WidgetAttachment(id=a.stored_file_id, name=a.name, size=a.size or 0, content_type=a.content_type)
            for a in attachments_of(message.attachments)
        ],
        created_at=message.created_at,
    )


class WidgetVisitors:
    def __init__(self, session: AsyncSession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime

    async def channel(self, public_key: str, origin: str | None) -> ChannelRecord:
        """The widget, with the transaction scoped to its tenant. A browser always names the page's origin on
        cross-site calls, and it must be one the tenant allowed; calls without one are not from a browser."""
        if NUL in public_key:  # no key has one, and the database cannot even compare it
            raise NotFound("No chat widget has this key.")
        await enter_system_scope(self.session)
        channel = await ChannelDirectory(self.session).by_public_key(public_key)
        if channel is None or channel.type != CHANNEL_TYPE:
            raise NotFound("No chat widget has this key.")
        if origin is not None and not origin_allowed(channel, origin):
            raise Forbidden(f"The chat widget is not enabled for {origin[:200]}; add it to the allowed origins.")
        await scope_to_tenant(self.session, channel.tenant_id)
        return channel

    async def start(
        self, public_key: str, origin: str | None, request: schemas.WidgetSessionStart
    ) -> schemas.WidgetSessionStarted:
        channel = await self.channel(public_key, origin)
        if origin is None:
            raise Forbidden("A chat session starts from a web page: the Origin header is required.")
        if channel.status == ChannelStatus.paused:
            raise Conflict("This chat is paused by the business.")
        identity = self._identity(channel, request)
        token = issue_visitor_token(self.runtime.settings.signing_key(), channel.id, identity)
        config = channel.config
        return schemas.WidgetSessionStarted(
            visitor_token=token,
            identified=identity.kind == SITE_USER_IDENTITY,
            settings=schemas.WidgetAppearance(
                title=config.get("title") or channel.name,
                greeting=config.get("greeting"),
                color=config.get("color", "#2563eb"),
                position=config.get("position", "right"),
                prechat_fields=config.get("prechat_fields", []),
            ),
        )

    def _identity(self, channel: ChannelRecord, request: schemas.WidgetSessionStart) -> VisitorIdentity:
        if request.user_id is not None:
            secret = credentials_of(channel, self.runtime).get("identity_secret", "")
            signature = request.user_signature
            if not secret or not signature or not signature_valid(secret, request.user_id, signature):
                raise Forbidden("user_signature does not match user_id: sign it with the widget's identity secret.")
            return VisitorIdentity(SITE_USER_IDENTITY, request.user_id)
        if request.visitor_token:
            try:
                known = read_visitor_token(self.runtime.settings.signing_key(), request.visitor_token, channel.id)
            except Unauthorized:  # an old or foreign token: this browser simply starts as a new visitor
                return anonymous_visitor(channel.id)
            # A signed-in customer's token counts only while the site still vouches for them: after they sign
            # out, the next person at this browser must not see their chat.
            if known.kind != SITE_USER_IDENTITY:
                return known
        return anonymous_visitor(channel.id)

    async def visitor(self, public_key: str, origin: str | None, token: str) -> Visitor:
        channel = await self.channel(public_key, origin)
        return Visitor(channel, read_visitor_token(self.runtime.settings.signing_key(), token, channel.id))

    async def visitor_again(self, visitor: Visitor, *, reload: bool = False) -> Visitor:
        """A visitor checked earlier in this live session, in this transaction (with the widget re-read when
        its state matters: it may have been paused or deleted since)."""
        if not reload:
            await scope_to_tenant(self.session, visitor.channel.tenant_id)
            return visitor
        await enter_system_scope(self.session)
        channel = await ChannelDirectory(self.session).get(visitor.channel.id)
        if channel is None:
            raise NotFound("This chat widget was removed.")
        await scope_to_tenant(self.session, channel.tenant_id)
        return Visitor(channel, visitor.identity)

    async def conversation_of(self, visitor: Visitor) -> uuid.UUID | None:
        contact = await ContactRepository(self.session, visitor.channel.tenant_id).by_identity(
            visitor.identity.kind, visitor.identity.external_id
        )
        if contact is None:
            return None
        conversations = ConversationRepository(self.session, visitor.channel.tenant_id)
        conversation = await conversations.latest_for(contact.id, str(visitor.channel.id))
        return conversation.id if conversation else None

    async def file_of(self, visitor: Visitor, file_id: uuid.UUID) -> ConversationFile:
        """A file of the visitor's conversation (404 for any other, another visitor's included)."""
        conversation_id = await self.conversation_of(visitor)
        files = ConversationFileRepository(self.session, visitor.channel.tenant_id)
        stored = await files.content_of(conversation_id, file_id) if conversation_id else None
        if stored is None:
            raise NotFound("No such file in this chat.")
        return stored

    async def messages_after(
        self, conversation_id: uuid.UUID, tenant_id: uuid.UUID, position: int
    ) -> list[tuple[Message, str | None]]:
        return list(
            await MessageRepository(self.session, tenant_id).visible_after(conversation_id, position, HISTORY_PAGE)
        )

    async def send(
        self, visitor: Visitor, body: schemas.WidgetMessageSend, attachments: list[Attachment] | None = None
    ) -> tuple[schemas.WidgetMessageAccepted, uuid.UUID]:
        """Store the visitor's message with the job that answers it; the same client_id is stored once."""
        channel = visitor.channel
        if channel.status == ChannelStatus.paused:
            raise Conflict("This chat is paused by the business.")
        accepted = await InboundService(self.session, channel.tenant_id).accept(
            ChannelRef(type=CHANNEL_TYPE, key=str(channel.id)),
            Inbound(
                identity_kind=visitor.identity.kind,
                contact_external_id=visitor.identity.external_id,
                text=body.text,
                external_message_id=f"{_visitor_tag(visitor)}:{body.client_id}",
                contact_name=body.name or None,
                contact_phone=body.phone or None,
                attachments=list(attachments or []),
                assistant_id=channel.assistant_id,
            ),
        )
        answer = schemas.WidgetMessageAccepted(
            client_id=body.client_id, message_id=accepted.message_id, duplicate=accepted.duplicate
        )
        return answer, accepted.conversation_id

    async def send_file(
        self, visitor: Visitor, filename: str, data: bytes, body: schemas.WidgetMessageSend, *, max_bytes: int
    ) -> schemas.WidgetMessageAccepted:
        file = chat_file(filename, data, max_bytes=max_bytes)
        accepted, conversation_id = await self.send(visitor, body, [file.attachment])
        if not accepted.duplicate:
            await ConversationFileRepository(self.session, visitor.channel.tenant_id).add(file.stored(conversation_id))
        return accepted
