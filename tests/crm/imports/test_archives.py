"""Zips of exports: WhatsApp's own (chat and media), a business's zip of many, and hostile ones."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from easyflow.crm.imports.archive import RefusedArchive, UnpackBudget, folder_as_zip
from easyflow.crm.imports.chats import Media
from easyflow.crm.imports.reader import check_upload, read_exports
from tests.crm.imports.zips import JPEG, zip_of

FIXTURES = Path(__file__).parent / "fixtures"
BUDGET = 50 * 1024 * 1024


def _budget() -> UnpackBudget:
    return UnpackBudget(max_bytes=BUDGET)


def whatsapp_zip() -> bytes:
    return zip_of({"_chat.txt": (FIXTURES / "_chat.txt").read_bytes(), "00000012-PHOTO-2026-11-25-14-06-02.jpg": JPEG})


def test_iphone_zip_gives_the_chat_its_name_and_keeps_its_media() -> None:
    exports = read_exports([("WhatsApp Chat - Анна.zip", whatsapp_zip())], _budget())

    [chat] = exports.chats
    assert chat.title == "Анна"
    photo = chat.messages[2].media[0]
    assert photo == Media("image", "00000012-PHOTO-2026-11-25-14-06-02.jpg")
    assert exports.media_of(chat, photo.name or "") == JPEG
    assert exports.unreadable == []


def test_a_zip_of_many_exports_reads_each_chat_and_each_kind() -> None:
    telegram_export = {"name": "Bob", "type": "personal_chat", "id": 5, "messages": []}
    bundle = zip_of(
        {
            "WhatsApp Chat - Анна.zip": whatsapp_zip(),
            "android/WhatsApp Chat with Aida.txt": (FIXTURES / "WhatsApp Chat with Aida.txt").read_bytes(),
            "android/IMG-20261125-WA0007.jpg": JPEG,
            "telegram/result.json": json.dumps(telegram_export).encode(),
            "contacts.csv": b"name,phone\nAida,+996555000111\n",
            "broken/WhatsApp Chat with Nobody.txt": b"\x00\x01\x02 not text",
        }
    )

    exports = read_exports([("all.zip", bundle)], _budget())

    assert sorted((c.platform, c.title) for c in exports.chats) == [
        ("telegram", "Bob"),
        ("whatsapp", "Aida"),
        ("whatsapp", "Анна"),
    ]
    aida = next(c for c in exports.chats if c.title == "Aida")
    assert exports.media_of(aida, "IMG-20261125-WA0007.jpg") == JPEG
    assert [c.phone for c in exports.contacts] == ["+996555000111"]
    assert [u.file for u in exports.unreadable] == ["all.zip/broken/WhatsApp Chat with Nobody.txt"]


@pytest.mark.parametrize("evil", ["../outside.txt", "/etc/passwd", "a/../../up.txt", "C:\\Windows\\evil.txt"])
def test_entries_that_point_outside_the_archive_are_ignored_and_reported(evil: str) -> None:
    archive = zip_of({evil: b"25.11.2026, 14:03 - Eve: pwned\n", "_chat.txt": b"25.11.2026, 14:03 - Ann: hi\n"})

    exports = read_exports([("WhatsApp Chat - Ann.zip", archive)], _budget())

    assert [m.text for c in exports.chats for m in c.messages] == ["hi"]
    assert [u.text for u in exports.unreadable] == [f"{evil}: a path outside the archive, ignored."]


def test_a_zip_bomb_is_refused_by_its_expansion_ratio() -> None:
    bomb = zip_of({"_chat.txt": b"0" * (5 * 1024 * 1024)})

    with pytest.raises(RefusedArchive, match=r"expands .* times; refused"):
        read_exports([("bomb.zip", bomb)], _budget())


def test_archives_unpacking_past_the_imports_budget_are_refused() -> None:
    stored = zip_of({f"{n}.jpg": JPEG * 2000 for n in range(2)}, compression=zipfile.ZIP_STORED)

    with pytest.raises(RefusedArchive, match=r"^b\.zip: unpacks to .* more than the 500,000 allowed"):
        read_exports([("a.zip", stored), ("b.zip", stored)], UnpackBudget(max_bytes=500_000))


def test_nested_bombs_count_against_the_same_budget() -> None:
    inner = zip_of({"x.bin": b"0" * 900_000})  # under the ratio floor, but big
    outer = zip_of({f"{n}.zip": inner for n in range(3)}, compression=zipfile.ZIP_STORED)

    with pytest.raises(RefusedArchive, match="refused"):
        read_exports([("outer.zip", outer)], UnpackBudget(max_bytes=2_000_000))


def test_a_file_that_only_looks_like_a_zip_is_reported() -> None:
    exports = read_exports([("fake.zip", b"PK\x03\x04" + b"\x00" * 100)], _budget())

    assert exports.chats == []
    assert [u.file for u in exports.unreadable] == ["fake.zip"]


@pytest.mark.parametrize(
    ("name", "data", "refused"),
    [
        ("chat.txt", "25.11.2026, 14:03 - Анна: привет\n".encode(), False),
        ("chat.txt", b"\xff\xfe" + "[25.11.2026, 14:03:11] Анна: привет".encode("utf-16-le"), False),
        ("export.zip", zip_of({"_chat.txt": b"x"}), False),
        ("garbage.bin", bytes(range(256)) * 16, True),
        ("empty.txt", b"", True),
    ],
)
def test_uploads_that_cannot_be_exports_are_refused_at_once(name: str, data: bytes, refused: bool) -> None:
    problem = check_upload(name, data)

    assert (problem is not None) == refused
    if refused:
        assert problem is not None and problem.startswith(name)


def test_an_entry_with_corrupt_compressed_bytes_is_reported_and_the_rest_read() -> None:
    good = (FIXTURES / "_chat.txt").read_bytes()
    archive = bytearray(zip_of({"a/_chat.txt": good, "b/_chat.txt": b"25.11.2026, 14:03 - Ann: " + b"hi " * 200}))
    second = archive.index(b"b/_chat.txt") + len(b"b/_chat.txt")  # its local header's name, then its data
    archive[second + 5 : second + 25] = b"\xff" * 20

    exports = read_exports([("WhatsApp Chat - Анна.zip", bytes(archive))], _budget())

    assert [len(chat.messages) for chat in exports.chats] == [6]
    assert [u.file for u in exports.unreadable] == ["WhatsApp Chat - Анна.zip/b/_chat.txt"]


def test_a_zipped_telegram_export_keeps_its_photos_beside_result_json(tmp_path: Path) -> None:
    export = {
        "name": "Борис",
        "type": "personal_chat",
        "id": 42,
        "messages": [
            {"id": 1, "type": "message", "date_unixtime": "1795600000", "from_id": "user42", "text": "",
             "photo": "photos/photo_1@25-11-2026_14-03-11.jpg"},
        ],
    }  # fmt: skip
    folder = tmp_path / "ChatExport_2026-11-25"
    (folder / "photos").mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(export, ensure_ascii=False))
    (folder / "photos" / "photo_1@25-11-2026_14-03-11.jpg").write_bytes(JPEG)

    exports = read_exports([("ChatExport_2026-11-25.zip", folder_as_zip(folder))], _budget())

    [chat] = exports.chats
    [photo] = chat.messages[0].media
    assert exports.media_of(chat, photo.name or "") == JPEG
