"""Every SQL statement of imports: the imports and their files, and the history they write (contacts found
or created, conversations, messages added only when new)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert

from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.conversations import (
    Contact,
    ContactIdentity,
    ConversationFile,
    DeliveryStatus,
    Message,
    MessageRole,
)
from easyflow.models.crm_imports import ChatImport, ChatImportFile
from easyflow.models.tenancy import Tenant, User


class ImportRepository(TenantScopedRepository[ChatImport]):
    model = ChatImport

    async def page(self, *, limit: int, offset: int) -> tuple[Sequence[ChatImport], int]:
        statement = self.scoped().order_by(ChatImport.created_at.desc(), ChatImport.id).limit(limit).offset(offset)
        rows = (await self.session.execute(statement)).scalars().all()
        return rows, await self.count()

    async def count(self) -> int:
        total = await self.session.scalar(
            select(func.count()).select_from(ChatImport).where(ChatImport.tenant_id == self.tenant_id)
        )
        return total or 0

    async def with_creators(
        self, *, limit: int, import_id: uuid.UUID | None = None
    ) -> list[tuple[ChatImport, str | None]]:
        """The newest imports (or the one `import_id`), each with who started it: their name, else their
        e-mail; None when nobody did (the command line) or their account is gone."""
        creator = func.coalesce(func.nullif(User.name, ""), User.email)
        statement = self.scoped().add_columns(creator).outerjoin(User, User.id == ChatImport.created_by)
        if import_id is not None:
            statement = statement.where(ChatImport.id == import_id)
        statement = statement.order_by(ChatImport.created_at.desc(), ChatImport.id).limit(limit)
        return [(row[0], row[1]) for row in await self.session.execute(statement)]

    async def add_file(self, import_id: uuid.UUID, position: int, name: str, data: bytes) -> None:
        self.session.add(
            ChatImportFile(tenant_id=self.tenant_id, import_id=import_id, position=position, name=name, data=data)
        )
        await self.session.flush()

    async def files(self, import_id: uuid.UUID) -> list[tuple[str, bytes]]:
        statement = (
            select(ChatImportFile.name, ChatImportFile.data)
            .where(ChatImportFile.tenant_id == self.tenant_id, ChatImportFile.import_id == import_id)
            .order_by(ChatImportFile.position)
        )
        return [(row.name, row.data) for row in await self.session.execute(statement)]

    async def delete_files(self, import_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(ChatImportFile).where(
                ChatImportFile.tenant_id == self.tenant_id, ChatImportFile.import_id == import_id
            )
        )

    async def set_state(self, import_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(
            update(ChatImport)
            .where(ChatImport.tenant_id == self.tenant_id, ChatImport.id == import_id)
            .values(**values)
        )

    async def timezone(self) -> str:
        zone = await self.session.scalar(select(Tenant.timezone).where(Tenant.id == self.tenant_id))
        return zone or "UTC"


class HistoryRepository(TenantScopedRepository[Message]):
    """The conversations' tables as an import writes them."""

    model = Message

    async def contact_by_identity(self, kind: str, external_id: str) -> Contact | None:
        statement = (
            select(Contact)
            .join(ContactIdentity, ContactIdentity.contact_id == Contact.id)
            .where(
                ContactIdentity.tenant_id == self.tenant_id,
                ContactIdentity.kind == kind,
                ContactIdentity.external_id == external_id,
            )
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def contact_by_phone(self, phone: str) -> Contact | None:
        statement = (
            select(Contact)
            .where(Contact.tenant_id == self.tenant_id, or_(Contact.phone == phone, Contact.phones.contains([phone])))
            .order_by(Contact.created_at)
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def contact_by_email(self, email: str) -> Contact | None:
        statement = (
            select(Contact)
            .where(Contact.tenant_id == self.tenant_id, func.lower(Contact.email) == email.lower())
            .order_by(Contact.created_at)
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def add_contact(self, name: str, phone: str | None, labels: list[str]) -> Contact:
        contact = Contact(tenant_id=self.tenant_id, name=name, phone=phone, labels=labels)
        self.session.add(contact)
        await self.session.flush()
        return contact

    async def add_identity(self, contact_id: uuid.UUID, kind: str, external_id: str) -> None:
        await self.session.execute(
            insert(ContactIdentity)
            .values(
                id=uuid.uuid4(), tenant_id=self.tenant_id, contact_id=contact_id, kind=kind, external_id=external_id
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "kind", "external_id"])
        )

    async def existing_keys(self, keys: Sequence[str]) -> set[str]:
        statement = select(Message.dedupe_key).where(Message.tenant_id == self.tenant_id, Message.dedupe_key.in_(keys))
        return {key for key in (await self.session.execute(statement)).scalars() if key is not None}

    async def add_files(self, files: Sequence[ConversationFile]) -> None:
        for file in files:
            file.tenant_id = self.tenant_id
        self.session.add_all(files)
        await self.session.flush()

    async def add_messages(self, conversation_id: uuid.UUID, rows: Sequence[ImportedMessage]) -> int:
        """Insert the conversation's messages in one statement (the rows as arrays: one round trip, and the
        same SQL every time, where a VALUES list of the rows is compiled anew per batch), in the export's order
        (their positions follow it); one whose dedupe key exists already is skipped. How many were added."""
        if not rows:
            return 0
        result = await self.session.execute(
            _ADD_MESSAGES,
            {
                "tenant_id": self.tenant_id,
                "conversation_id": conversation_id,
                "ids": [uuid.uuid4() for _ in rows],
                "roles": [row.role.value for row in rows],
                "texts": [row.text for row in rows],
                "attachments": [json.dumps(row.attachments, ensure_ascii=False) for row in rows],
                "statuses": [row.delivery_status.value for row in rows],
                "keys": [row.dedupe_key for row in rows],
                "answered": [row.answered_at for row in rows],
                "created": [row.created_at for row in rows],
            },
        )
        return len(result.all())


@dataclass(frozen=True)
class ImportedMessage:
    role: MessageRole
    text: str
    attachments: list[dict[str, Any]]
    delivery_status: DeliveryStatus
    dedupe_key: str
    answered_at: datetime | None
    created_at: datetime


_ADD_MESSAGES = text(
    """
    INSERT INTO messages (id, tenant_id, conversation_id, role, text, attachments, buttons, citations, reply_to,
                          private, delivery_status, dedupe_key, answered_at, created_at)
    SELECT m.id, :tenant_id, :conversation_id, m.role::message_role, m.text, m.attachments::jsonb, '[]', '[]', '[]',
           false, m.status::delivery_status, m.key, m.answered, m.created
    FROM unnest(CAST(:ids AS uuid[]), CAST(:roles AS text[]), CAST(:texts AS text[]), CAST(:attachments AS text[]),
                CAST(:statuses AS text[]), CAST(:keys AS text[]), CAST(:answered AS timestamptz[]),
                CAST(:created AS timestamptz[])) WITH ORDINALITY
         AS m(id, role, text, attachments, status, key, answered, created, n)
    ORDER BY m.n
    ON CONFLICT (tenant_id, dedupe_key) DO NOTHING
    RETURNING id
    """
)
