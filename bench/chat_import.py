"""Chat-history import benchmark (issue 12: "100 chats of 500 messages each import in under a minute"): how long
importing a business's zip of 100 WhatsApp exports takes, beside PostgreSQL's own COPY of as many rows into a
copy of the messages table, measured in the same run.

Method
------
1. Start the embedded PostgreSQL in a temporary folder, migrate it and create a tenant with the `easyflow` CLI.
2. Write `--chats` Android WhatsApp exports (Russian locale, 24-hour clock) of `--messages` messages each: the
   customer (named by number, as in "WhatsApp Chat with +996 555 100 001.txt") and the business ("Tour
   Bishkek") taking turns over a few weeks, one message in 7 over two lines, one in 25 a photo placeholder,
   Russian texts varied by number; zipped together into one archive, as a business uploads them.
3. Import: `easyflow.crm.imports.service.import_now` in this process, the very code the `crm.import_chats`
   job runs (store the upload, unpack and parse it, then each chat in its own transaction: its contact,
   conversation and messages with their dedupe keys), timed from the upload to the finished report. Then the
   same zip again (every message already there: the dedupe path), timed the same way; and the unpacking and
   parsing alone (no database), for where the time goes.
4. Baseline, same run: as the database owner, `CREATE TEMP TABLE ... (LIKE messages INCLUDING ALL)` (the same
   columns, defaults, unique keys and indexes) and COPY as many rows (the same texts, roles and times) into
   it in one transaction: the floor for writing that many messages.

Target: the import under 60 s. The script exits 0 whatever the verdict; only a crash fails it.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import secrets
import sys
import tempfile
import time
import uuid
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from easyflow.config import Settings
from easyflow.crm.imports.archive import UnpackBudget
from easyflow.crm.imports.reader import read_exports
from easyflow.crm.imports.service import import_now
from easyflow.db import migrate
from easyflow.db.database import Database
from easyflow.db.embedded import EmbeddedPostgres, app_login_url
from easyflow.db.urls import psycopg_conninfo
from http_baseline import _easyflow_command, _easyflow_env, _positive, create_tenant, run_benchmark

TARGET_SECONDS = 60.0
BUSINESS = "Tour Bishkek"
QUESTIONS = (
    "Здравствуйте! Сколько стоит тур на Иссык-Куль на {n} человек?",
    "А трансфер из Бишкека входит? Вылет {n} декабря",
    "Можно оплатить картой или только наличными?",
    "Хорошо, бронирую на {n}-е число",
)
ANSWERS = (
    "Добрый день! Тур на 3 дня — {n} 000 сом с человека.",
    "Да, трансфер входит, выезд в 8:00 от площади Ала-Тоо.",
    "Можно картой, ссылку на оплату пришлём сюда.",
    "Записали вас, ждём! Номер брони {n}.",
)


@dataclass(frozen=True)
class Findings:
    chats: int
    messages: int
    upload_bytes: int
    import_seconds: float
    reimport_seconds: float
    parse_seconds: float
    copy_seconds: float
    report: dict[str, object]
    reimport_report: dict[str, object]


def export_of(chat: int, messages: int) -> tuple[str, bytes]:
    """One chat's Android export (Russian phone locale) named by the customer's number."""
    phone = f"+996 555 {100 + chat // 1000:03d} {chat % 1000:03d}"
    start = datetime(2026, 10, 1, 9, 0) + timedelta(hours=chat)
    lines = ["01.10.2026, 09:00 - Сообщения и звонки защищены сквозным шифрованием. Нажмите, чтобы узнать больше."]
    for number in range(messages):
        at = start + timedelta(minutes=7 * number)
        sender = phone if number % 2 == 0 else BUSINESS
        texts = QUESTIONS if number % 2 == 0 else ANSWERS
        text = texts[number % len(texts)].format(n=number % 28 + 1)
        if number % 25 == 24:
            text = f"IMG-{at:%Y%m%d}-WA{number:04d}.jpg (файл добавлен)"
        elif number % 7 == 6:
            text += "\nИ ещё вопрос: нужен ли паспорт?"
        lines.append(
            f"{at:%d.%m.%Y, %H:%M} - \u202a{phone}\u202c: {text}"
            if sender == phone
            else f"{at:%d.%m.%Y, %H:%M} - {sender}: {text}"
        )
    return f"WhatsApp Chat with {phone}.txt", ("\n".join(lines) + "\n").encode()


def zip_of(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return buffer.getvalue()


def _settings(url: str, data_dir: Path) -> Settings:
    return Settings(
        _env_file=None,
        env="development",
        database_url=url,
        database_app_url=app_login_url(url),
        data_dir=data_dir,
        secret_key=secrets.token_urlsafe(32),
        embedding_provider="none",
        log_level="WARNING",
    )


async def _imports(
    settings: Settings, tenant_id: uuid.UUID, upload: tuple[str, bytes]
) -> list[tuple[float, dict[str, object]]]:
    database = await Database.open(settings, pool_size=4)
    timed = []
    try:
        for _ in range(2):
            started = time.perf_counter()
            finished = await import_now(database, settings, tenant_id, [upload], business=BUSINESS)
            timed.append((time.perf_counter() - started, dict(finished.report) | {"status": finished.status.value}))
    finally:
        await database.close()
    return timed


def _copy_baseline(database_url: str, exports: list[tuple[str, bytes]]) -> tuple[float, int]:
    """COPY as many message rows into a copy of the messages table; seconds and rows."""
    rows = []
    for _, data in exports:
        for line in data.decode().splitlines()[1:]:
            rows.append(line.split(": ", 1)[-1])
    with psycopg.connect(psycopg_conninfo(database_url)) as owner:
        owner.execute("CREATE TEMP TABLE baseline_messages (LIKE messages INCLUDING ALL)")
        conversation, tenant = uuid.uuid4(), uuid.uuid4()
        started = time.perf_counter()
        with owner.cursor() as cursor:
            columns = (
                "id, tenant_id, conversation_id, role, text, attachments, buttons, citations, reply_to, private, "
                "delivery_status, dedupe_key, answered_at, created_at"
            )
            with cursor.copy(f"COPY baseline_messages ({columns}) FROM STDIN") as copy:
                moment = datetime(2026, 10, 1)
                for number, text in enumerate(rows):
                    role = "contact" if number % 2 == 0 else "operator"
                    status = "received" if role == "contact" else "sent"
                    answered = moment if role == "contact" else None
                    copy.write_row(
                        (
                            *(uuid.uuid4(), tenant, conversation, role, text, "[]", "[]", "[]", "[]", False),
                            *(status, f"bench:{number}", answered, moment),
                        )
                    )
        owner.commit()
        return time.perf_counter() - started, len(rows)


def run(args: argparse.Namespace) -> Findings:
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="easyflow-bench-")))
        print(f"starting the embedded PostgreSQL in {workdir} ...", file=sys.stderr)
        embedded = EmbeddedPostgres(workdir)
        stack.callback(embedded.stop)
        database_url = embedded.start()
        migrate.upgrade(database_url)
        tenant = create_tenant(_easyflow_command(), _easyflow_env(database_url, workdir / "data"), workdir)
        exports = [export_of(chat, args.messages) for chat in range(args.chats)]
        upload = ("WhatsApp chats.zip", zip_of(exports))
        print(f"{args.chats} chats x {args.messages} messages, {len(upload[1]):,} bytes zipped", file=sys.stderr)
        started = time.perf_counter()
        parsed = read_exports([upload], UnpackBudget(max_bytes=1 << 30))
        parse_seconds = time.perf_counter() - started
        messages = sum(len(chat.messages) for chat in parsed.chats)
        settings = _settings(database_url, workdir / "data")
        (first, report), (again, reimport_report) = asyncio.run(
            _imports(settings, uuid.UUID(tenant["tenant_id"]), upload)
        )
        copy_seconds, _ = _copy_baseline(database_url, exports)
        return Findings(
            args.chats, messages, len(upload[1]), first, again, parse_seconds, copy_seconds, report, reimport_report
        )


def report(findings: Findings) -> None:
    rate = findings.messages / findings.import_seconds
    label = f"import, {findings.chats} chats, {findings.messages:,} messages:"
    print(f"{label:<44}{findings.import_seconds:6.2f} s  ({rate:,.0f} messages/s)")
    print(f"  its report: {findings.report}")
    print(f"re-import of the same zip (all duplicates): {findings.reimport_seconds:6.2f} s")
    print(f"  its report: {findings.reimport_report}")
    print(f"unpacking and parsing alone (no database):  {findings.parse_seconds:6.2f} s")
    print(f"baseline, COPY of as many message rows:     {findings.copy_seconds:6.2f} s")
    met = findings.import_seconds < TARGET_SECONDS and findings.report.get("status") == "done"
    print(f"target: under {TARGET_SECONDS:g} s: {'PASS' if met else 'FAIL'}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=_positive(int), default=100, help="chats in the zip (default: 100)")
    parser.add_argument("--messages", type=_positive(int), default=500, help="messages per chat (default: 500)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    return run_benchmark(lambda: run(args), report)


if __name__ == "__main__":
    sys.exit(main())
