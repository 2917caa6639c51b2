"""Use cases of imports: accept the uploaded exports (stored with the job that will import them), read the
state and report, and the import itself (`ChatImporter`), which a job or the CLI runs.

The import reads every file first, before writing anything: a zip bomb or nothing importable fails the whole
import with nothing stored. Then each chat is written in a transaction of its own, with the import's progress
and report in the same transaction: a chat that cannot be written is rolled back alone and reported under
`unreadable`, and the others go on. Contacts found are only added to (an identity, tags), never changed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.crm.imports import schemas
from easyflow.crm.imports.archive import RefusedArchive, UnpackBudget
from easyflow.crm.imports.chats import ParsedChat, Unreadable
from easyflow.crm.imports.history import ChatSkipped, HistoryWriter, Sides, Tally
from easyflow.crm.imports.reader import Exports, check_upload, read_exports
from easyflow.crm.imports.repository import ImportRepository
from easyflow.kit.errors import InvalidInput, NotFound, PayloadTooLarge, Unprocessable
from easyflow.kit.jobs import defer
from easyflow.kit.schemas import without_nul
from easyflow.models.crm_imports import ChatImport, ChatImportStatus

if TYPE_CHECKING:
    from easyflow.config import Settings
    from easyflow.db.database import Database

log = structlog.get_logger(__name__)

IMPORT_JOB = "crm.import_chats"
MAX_FILES = 100
MAX_UNREADABLE = 1000
MAX_BUSINESS_CHARS = 200
MAX_FILE_NAME_CHARS = 300


class ImportService:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.imports = ImportRepository(session, tenant_id)

    async def create(
        self,
        uploads: Sequence[tuple[str, bytes]],
        *,
        business: str | None,
        created_by: uuid.UUID | None,
        max_bytes: int,
        queue: bool = True,
    ) -> ChatImport:
        """Store the files and (unless the caller runs the import itself) queue the import. Refused at once:
        no files, too many or too big (413), a file that cannot be an export (422)."""
        if not uploads:
            raise InvalidInput("file: upload at least one chat export (a .txt, .zip, result.json or .csv).")
        if len(uploads) > MAX_FILES:
            raise InvalidInput(f"file: at most {MAX_FILES} files in one import; zip them together.")
        total = sum(len(data) for _, data in uploads)
        if total > max_bytes:
            raise PayloadTooLarge(f"The files are {total:,} bytes together; the limit is {max_bytes:,}.")
        problems = [problem for name, data in uploads if (problem := check_upload(name, data))]
        if problems:
            raise Unprocessable(" ".join(problems[:5]))
        business = without_nul(business or "").strip()[:MAX_BUSINESS_CHARS] or None
        names = [_file_name(name) for name, _ in uploads]
        chat_import = await self.imports.add(
            ChatImport(
                status=ChatImportStatus.queued,
                business=business,
                files=[{"name": name, "size": len(data)} for name, (_, data) in zip(names, uploads, strict=True)],
                report=schemas.ImportReport().model_dump(),
                chats_total=0,
                chats_done=0,
                created_by=created_by,
            )
        )
        for position, (name, (_, data)) in enumerate(zip(names, uploads, strict=True)):
            await self.imports.add_file(chat_import.id, position, name, data)
        if queue:
            await defer(self.session, IMPORT_JOB, tenant_id=str(self.tenant_id), import_id=str(chat_import.id))
        return chat_import

    async def get(self, import_id: uuid.UUID) -> ChatImport:
        chat_import = await self.imports.get(import_id)
        if chat_import is None:
            raise NotFound("No such import in this tenant.")
        return chat_import

    async def page(self, *, limit: int, offset: int) -> tuple[list[ChatImport], int]:
        rows, total = await self.imports.page(limit=limit, offset=offset)
        return list(rows), total

    async def recent_with_creators(self, *, limit: int) -> tuple[list[tuple[ChatImport, str | None]], int]:
        """The newest imports, each with the name of the member who started it (None: the command line), and
        how many there are in all."""
        return await self.imports.with_creators(limit=limit), await self.imports.count()

    async def get_with_creator(self, import_id: uuid.UUID) -> tuple[ChatImport, str | None]:
        found = await self.imports.with_creators(limit=1, import_id=import_id)
        if not found:
            raise NotFound("No such import in this tenant.")
        return found[0]


def _file_name(name: str) -> str:
    return without_nul(name).replace("\\", "/").rsplit("/", 1)[-1][:MAX_FILE_NAME_CHARS] or "export"


class ChatImporter:
    """Runs one import to its end: read everything, then write chat by chat, the report kept as it goes."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    async def run(self, tenant_id: uuid.UUID, import_id: uuid.UUID) -> None:
        async with self.database.tenant_transaction(tenant_id) as session:
            imports = ImportRepository(session, tenant_id)
            chat_import = await imports.get(import_id)
            if chat_import is None or chat_import.status in (ChatImportStatus.done, ChatImportStatus.failed):
                return
            await imports.set_state(
                import_id, status=ChatImportStatus.running, started_at=datetime.now(UTC), chats_done=0, error=None
            )
            uploads = await imports.files(import_id)
            zone = _zone(await imports.timezone())
            business = chat_import.business
        budget = UnpackBudget(max_bytes=self.settings.import_max_unpacked_bytes)
        try:
            exports = await asyncio.to_thread(read_exports, uploads, budget)
        except RefusedArchive as error:
            await self.fail(tenant_id, import_id, str(error))
            return
        del uploads  # up to half a gigabyte, not needed past here: the media are in `exports`
        unreadable = list(exports.unreadable) + [line for chat in exports.chats for line in chat.unreadable]
        chats = [chat for chat in exports.chats if chat.messages]
        if not chats and not exports.contacts:
            reason = "Nothing to import: no chat messages or contacts were found in the files."
            if unreadable:
                reason += f" {unreadable[0].text}"
            await self.fail(tenant_id, import_id, reason, unreadable=unreadable)
            return
        await self._write(tenant_id, import_id, exports, chats, unreadable, Sides(business), zone)

    async def _write(
        self,
        tenant_id: uuid.UUID,
        import_id: uuid.UUID,
        exports: Exports,
        chats: list[ParsedChat],
        unreadable: list[Unreadable],
        sides: Sides,
        zone: ZoneInfo,
    ) -> None:
        tally = Tally()
        total = len(chats) + (1 if exports.contacts else 0)
        async with self.database.tenant_transaction(tenant_id) as session:
            await ImportRepository(session, tenant_id).set_state(
                import_id, chats_total=total, report=_report(tally, unreadable)
            )
        done = 0
        for chat in chats:
            if sides.business and not any(sides.is_business(chat, message) for message in chat.messages):
                note = f"no message from «{sides.business}» here: every message was taken as the customer's."
                unreadable.append(Unreadable(chat.file, None, note))
            done += 1
            tally = await self._step(tenant_id, import_id, tally, unreadable, done, chat, exports, sides, zone)
        if exports.contacts:
            done += 1
            tally = await self._step(tenant_id, import_id, tally, unreadable, done, None, exports, sides, zone)
        async with self.database.tenant_transaction(tenant_id) as session:
            imports = ImportRepository(session, tenant_id)
            await imports.set_state(
                import_id,
                status=ChatImportStatus.done,
                finished_at=datetime.now(UTC),
                report=_report(tally, unreadable),
            )
            await imports.delete_files(import_id)

    async def _step(
        self,
        tenant_id: uuid.UUID,
        import_id: uuid.UUID,
        tally: Tally,
        unreadable: list[Unreadable],
        done: int,
        chat: ParsedChat | None,
        exports: Exports,
        sides: Sides,
        zone: ZoneInfo,
    ) -> Tally:
        """Write one chat (or the contact lists, `chat` None) with the progress, in one transaction: the tally
        with it. When it cannot be written, it alone is rolled back and reported, and the tally is as before."""
        attempt = tally.copy()
        try:
            async with self.database.tenant_transaction(tenant_id) as session:
                writer = HistoryWriter(session, tenant_id, zone, attempt)
                if chat is None:
                    await writer.write_contacts(exports.contacts)
                else:
                    await writer.write_chat(chat, exports, sides, max_file_bytes=self.settings.import_max_file_bytes)
                await ImportRepository(session, tenant_id).set_state(
                    import_id, chats_done=done, report=_report(attempt, unreadable)
                )
            return attempt
        except ChatSkipped as skipped:
            reason = str(skipped)
        except (DBAPIError, IntegrityError, ValueError, OverflowError) as error:
            log.warning("crm.import_chat_failed", import_id=str(import_id), error_type=type(error).__name__)
            reason = f"not imported: {type(error).__name__}: {str(error)[:150]}"
        unreadable.append(Unreadable(chat.file if chat else "contacts", None, reason))
        async with self.database.tenant_transaction(tenant_id) as session:
            await ImportRepository(session, tenant_id).set_state(
                import_id, chats_done=done, report=_report(tally, unreadable)
            )
        return tally

    async def fail(
        self, tenant_id: uuid.UUID, import_id: uuid.UUID, reason: str, *, unreadable: Sequence[Unreadable] = ()
    ) -> None:
        """The import failed as a whole: the reason on it, its files dropped; what was stored stays as it was."""
        log.warning("crm.import_failed", import_id=str(import_id), reason=reason[:200])
        async with self.database.tenant_transaction(tenant_id) as session:
            imports = ImportRepository(session, tenant_id)
            await imports.set_state(
                import_id,
                status=ChatImportStatus.failed,
                error=reason[:1000],
                finished_at=datetime.now(UTC),
                report=_report(Tally(), list(unreadable)),
            )
            await imports.delete_files(import_id)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _report(tally: Tally, unreadable: list[Unreadable]) -> dict[str, object]:
    lines = [line.reported() for line in unreadable[:MAX_UNREADABLE]]
    if len(unreadable) > MAX_UNREADABLE:
        lines.append({"file": "", "line": None, "text": f"… and {len(unreadable) - MAX_UNREADABLE} more."})
    return {
        "chats": tally.chats,
        "messages": tally.messages,
        "contacts_created": tally.contacts_created,
        "contacts_matched": tally.contacts_matched,
        "duplicates_skipped": tally.duplicates_skipped,
        "unreadable": lines,
    }


async def import_now(
    database: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
    uploads: Sequence[tuple[str, bytes]],
    *,
    business: str | None,
) -> ChatImport:
    """Store the files as an import and run it to its end here (the CLI, benchmarks): the finished import."""
    async with database.tenant_transaction(tenant_id) as session:
        chat_import = await ImportService(session, tenant_id).create(
            uploads, business=business, created_by=None, max_bytes=settings.import_max_upload_bytes, queue=False
        )
    await ChatImporter(database, settings).run(tenant_id, chat_import.id)
    async with database.tenant_transaction(tenant_id) as session:
        return await ImportService(session, tenant_id).get(chat_import.id)
