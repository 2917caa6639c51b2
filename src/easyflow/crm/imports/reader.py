"""From uploaded files to chats and contacts: each file (or each file in a zip) is told apart by its name and
its first lines — a WhatsApp `.txt`, a Telegram `result.json`, a CSV of contacts, or, inside an archive, a
chat's media. What cannot be read is reported, and the rest is still read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from easyflow.crm.imports import contacts_csv, telegram, whatsapp
from easyflow.crm.imports.archive import ExportFile, UnpackBudget, is_zip, unpack
from easyflow.crm.imports.chats import ContactRow, ParsedChat, Unreadable, UnreadableFile, decode_export


@dataclass
class Exports:
    chats: list[ParsedChat] = field(default_factory=list)
    contacts: list[ContactRow] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    # Every other file found in the archives, by its full path: the chats' media.
    media: dict[str, bytes] = field(default_factory=dict)

    def media_of(self, chat: ParsedChat, name: str) -> bytes | None:
        """The bytes of a file a chat's message names, when its archive holds them beside the chat."""
        return self.media.get(f"{chat.folder}/{name}" if chat.folder else name)


def check_upload(name: str, data: bytes) -> str | None:
    """Why the uploaded file cannot be an export (empty, binary garbage), or None. Cheap: run at upload."""
    if not data:
        return f"{name}: the file is empty."
    if is_zip(data):
        return None
    try:
        decode_export(data, name)
    except UnreadableFile as error:
        return f"{error} Upload WhatsApp .txt or .zip exports, Telegram result.json, or a CSV of contacts."
    return None


def read_exports(uploads: list[tuple[str, bytes]], budget: UnpackBudget) -> Exports:
    """Everything the uploads hold. Raises RefusedArchive for a zip bomb (the whole import is refused)."""
    exports = Exports()
    for name, data in uploads:
        if is_zip(data):
            try:
                unpacked = unpack(name, data, budget)
            except UnreadableFile as error:
                if type(error) is not UnreadableFile:
                    raise
                exports.unreadable.append(Unreadable(name, None, str(error)))
                continue
            exports.unreadable.extend(unpacked.unreadable)
            _read_archived(unpacked.files, exports)
        else:
            _read_file(ExportFile(name, data), exports, in_archive=False)
    return exports


def _read_archived(files: list[ExportFile], exports: Exports) -> None:
    for file in files:
        if not _read_file(file, exports, in_archive=True):
            exports.media[file.path] = file.data


def _read_file(file: ExportFile, exports: Exports, *, in_archive: bool) -> bool:
    """Read the file when it is an export (True); in an archive anything else is media (False)."""
    path = PurePosixPath(file.path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".json" and (path.name.lower() == telegram.FILE_NAME or not in_archive):
            exports.chats.extend(telegram.parse(file.data, file.path))
        elif suffix == ".csv" and (not in_archive or path.name.lower().startswith("contacts")):
            contacts, unreadable = contacts_csv.parse(file.data, file.path)
            exports.contacts.extend(contacts)
            exports.unreadable.extend(unreadable)
        elif not in_archive or _is_chat_text(path, file.data):
            exports.chats.append(whatsapp.parse(file.data, file.path, folder_name=path.parent.name or None))
            exports.chats[-1].folder = str(path.parent) if in_archive else ""
        else:
            return False
    except UnreadableFile as error:
        exports.unreadable.append(Unreadable(file.path, None, str(error)))
    return True


def _is_chat_text(path: PurePosixPath, data: bytes) -> bool:
    if path.suffix.lower() != ".txt":
        return False
    if path.name.lower() == whatsapp.GENERIC_CHAT_FILE or whatsapp.chat_title(path.name):
        return True
    try:
        return whatsapp.looks_like_whatsapp(decode_export(data[:4096], path.name))
    except UnreadableFile:
        return False
