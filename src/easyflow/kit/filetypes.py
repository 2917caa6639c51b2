"""What a file really is, told by its first bytes (never by its name or the sender's claim): the one place
both customers' attachments and knowledge-base uploads are recognised."""

from __future__ import annotations

from dataclasses import dataclass

OPAQUE = "application/octet-stream"
_TEXT_PROBE_BYTES = 8192


@dataclass(frozen=True)
class FileType:
    content_type: str
    kind: str  # image, document, archive, executable
    described: str  # in words, for messages: "an image", "a Windows executable"


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", FileType("image/png", "image", "an image")),
    (b"\xff\xd8\xff", FileType("image/jpeg", "image", "an image")),
    (b"GIF87a", FileType("image/gif", "image", "an image")),
    (b"GIF89a", FileType("image/gif", "image", "an image")),
    (b"%PDF-", FileType("application/pdf", "document", "a PDF document")),
    (b"PK\x03\x04", FileType("application/zip", "archive", "a ZIP archive")),
    (b"\x7fELF", FileType("application/x-executable", "executable", "an executable (ELF)")),
    (b"MZ", FileType("application/x-msdownload", "executable", "a Windows executable")),
    (b"\xca\xfe\xba\xbe", FileType("application/x-mach-binary", "executable", "an executable (Mach-O)")),
    (b"\xcf\xfa\xed\xfe", FileType("application/x-mach-binary", "executable", "an executable (Mach-O)")),
    (b"#!", FileType("text/x-script", "executable", "a script")),
    (b"\x1f\x8b", FileType("application/gzip", "archive", "a gzip archive")),
    (b"Rar!", FileType("application/vnd.rar", "archive", "a RAR archive")),
    (b"7z\xbc\xaf", FileType("application/x-7z-compressed", "archive", "a 7-Zip archive")),
)
_WEBP = FileType("image/webp", "image", "an image")


def binary_type(data: bytes) -> FileType | None:
    """The binary format the bytes start with, or None (text, or something unknown)."""
    for signature, file_type in _SIGNATURES:
        if data.startswith(signature):
            return file_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _WEBP
    return None


def decode_text(data: bytes) -> str | None:
    """The bytes as text (UTF-8, with or without BOM, or Windows-1251, common in Russian files), or None when
    they are not text: a NUL or other control characters near the start."""
    if b"\x00" in data[:_TEXT_PROBE_BYTES]:
        return None
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text[:_TEXT_PROBE_BYTES] if ord(ch) < 32 and ch not in "\n\r\t\f")
        return text if controls == 0 else None
    return None
