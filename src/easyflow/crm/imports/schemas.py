"""What the import API takes and shows."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from easyflow.models.crm_imports import ChatImportStatus


class UnreadableLine(BaseModel):
    file: str = Field(description="The file (inside its archive: `chats.zip/Анна/_chat.txt`).")
    line: int | None = Field(description="Its line (a message's number in a Telegram export), when known.")
    text: str = Field(description="What could not be read, or why.")


class ImportReport(BaseModel):
    chats: int = Field(default=0, description="Chats imported (each one conversation).")
    messages: int = Field(default=0, description="Messages added.")
    contacts_created: int = 0
    contacts_matched: int = Field(default=0, description="Contacts that existed before (same phone or account).")
    duplicates_skipped: int = Field(default=0, description="Messages already imported before, not added again.")
    unreadable: list[UnreadableLine] = Field(default_factory=list)


class ImportFileRead(BaseModel):
    name: str
    size: int


class ImportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: ChatImportStatus = Field(description="queued, running, done or failed (then `error` says why).")
    business: str | None = Field(description="The name or number that is the business's own side in the chats.")
    files: list[ImportFileRead]
    report: ImportReport
    chats_total: int = Field(description="Chats (and contact lists) found in the files; 0 until they are read.")
    chats_done: int = Field(description="How many of them are done: the progress while `running`.")
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ImportQueued(BaseModel):
    id: uuid.UUID
    status: ChatImportStatus
