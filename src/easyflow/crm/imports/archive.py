"""Zip archives of exports, opened defensively: a WhatsApp export with its media, or a business's zip of many
such exports (zips one level inside a zip are opened too).

An archive is refused whole when it would unpack to more than the import's budget or any entry expands
more than `max_ratio` times (a zip bomb): the sizes the archive declares are checked first, and the bytes
actually read are counted too, since the declared sizes may lie. Entries named outside the archive (`../x`,
`/etc/passwd`, `C:\\x`) and encrypted ones are left out and reported.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from easyflow.crm.imports.chats import Unreadable, UnreadableFile

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_READ_CHUNK = 1024 * 1024
# Small entries may compress very well (a text of spaces); only a big one with a huge ratio is a bomb.
RATIO_FLOOR_BYTES = 1024 * 1024
MAX_NESTING = 2
_DRIVE = re.compile(r"^[A-Za-z]:")


class RefusedArchive(UnreadableFile):
    """An archive that would unpack to too much (a zip bomb): the whole import is refused."""


@dataclass
class UnpackBudget:
    """What the whole import may unpack, shared by every archive in it."""

    max_bytes: int
    max_ratio: int = 100
    max_entries: int = 20_000
    used_bytes: int = 0
    entries: int = 0

    def take(self, archive: str, size: int) -> None:
        self.used_bytes += size
        if self.used_bytes > self.max_bytes:
            raise RefusedArchive(
                f"{archive}: unpacks to more than {self.max_bytes:,} bytes; refused (a zip bomb, or too big)."
            )


@dataclass
class ExportFile:
    path: str  # the upload's name, then the path inside each archive: "chats.zip/Анна/_chat.txt"
    data: bytes


@dataclass
class Unpacked:
    files: list[ExportFile] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)


def is_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def unpack(name: str, data: bytes, budget: UnpackBudget, *, depth: int = 1) -> Unpacked:
    """The files inside the archive (and inside archives in it), each under its full path."""
    unpacked = Unpacked()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as error:
        raise UnreadableFile(f"{name}: not a readable zip archive ({error}).") from error
    _check_declared(name, infos, budget)
    for info in infos:
        if info.is_dir():
            continue
        inner = _safe_name(info.filename)
        if inner is None:
            unpacked.unreadable.append(Unreadable(name, None, f"{info.filename}: a path outside the archive, ignored."))
            continue
        path = f"{name}/{inner}"
        if info.flag_bits & 0x1:
            unpacked.unreadable.append(Unreadable(path, None, "encrypted, skipped."))
            continue
        try:
            content = _read(archive, info, name, budget)
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError, EOFError) as error:
            unpacked.unreadable.append(Unreadable(path, None, f"could not be unpacked: {error}"))
            continue
        if is_zip(content) and depth < MAX_NESTING:
            try:
                nested = unpack(path, content, budget, depth=depth + 1)
            except RefusedArchive:
                raise
            except UnreadableFile as error:
                unpacked.unreadable.append(Unreadable(path, None, str(error)))
                continue
            unpacked.files.extend(nested.files)
            unpacked.unreadable.extend(nested.unreadable)
        else:
            unpacked.files.append(ExportFile(path, content))
    return unpacked


def _check_declared(name: str, infos: list[zipfile.ZipInfo], budget: UnpackBudget) -> None:
    """Refuse before reading a byte what the archive itself says is too much."""
    budget.entries += len(infos)
    if budget.entries > budget.max_entries:
        raise RefusedArchive(f"{name}: more than {budget.max_entries:,} files in the archives; refused.")
    declared = sum(info.file_size for info in infos)
    if budget.used_bytes + declared > budget.max_bytes:
        raise RefusedArchive(
            f"{name}: unpacks to {declared:,} bytes, more than the {budget.max_bytes:,} allowed; refused "
            "(a zip bomb, or too big)."
        )
    for info in infos:
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > budget.max_ratio * max(info.compress_size, 1):
            raise RefusedArchive(
                f"{name}: {info.filename} expands {info.file_size // max(info.compress_size, 1):,} times; refused "
                "(a zip bomb)."
            )


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, budget: UnpackBudget) -> bytes:
    """The entry's bytes, counted as they come: more than declared, or past the budget, refuses the archive."""
    chunks: list[bytes] = []
    read = 0
    with archive.open(info) as entry:
        while chunk := entry.read(_READ_CHUNK):
            read += len(chunk)
            if read > info.file_size:
                raise RefusedArchive(f"{name}: {info.filename} holds more than it declares; refused.")
            budget.take(name, len(chunk))
            chunks.append(chunk)
    return b"".join(chunks)


def _safe_name(name: str) -> str | None:
    """The entry's path inside the archive, or None when it points outside it."""
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or _DRIVE.match(normalized) or "\x00" in normalized:
        return None
    parts = [part for part in PurePosixPath(normalized).parts if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def folder_as_zip(folder: Path) -> bytes:
    """A folder (an unpacked export: Telegram's with result.json and photos/) as the zip it would have been,
    so its files are read as an archive's: exports by name, the rest as their media."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()
