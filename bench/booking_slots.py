"""Slot search benchmark (issue 13: "30 days for one staff member in < 200 ms"): the free starts of one service
for one member over 30 days, with a realistic book of existing appointments, beside the bare round trip of
the one query it makes for the busy ranges, measured in the same run.

Method
------
1. Start the embedded PostgreSQL in a temporary folder, migrate it, create a tenant (the CLI's own service).
2. One service (60 min, 15 min buffer), one member working every day 10:00-19:00 with an hour's lunch, and
   `--per-day` appointments a day (5 by default: a busy salon chair) over the next 30 days, plus the same for
   `--others` other members (their rows share the table and the index).
3. Time `SlotFinder.slots` (the very code behind GET /api/v1/booking/slots: tenant rules, service, member,
   busy ranges, computation) `--runs` times after 3 unmeasured, each in its own tenant transaction.
4. Baseline: the busy-range query alone (`AppointmentRepository.busy`) in the same kind of transaction.

Target: p95 under 200 ms. Exits 0 whatever the verdict.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from time import perf_counter
from zoneinfo import ZoneInfo

from easyflow.booking.repository import AppointmentRepository
from easyflow.booking.slots import SlotFinder
from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.db.embedded import app_login_url
from easyflow.models.booking import Appointment
from easyflow.models.catalogue import Service, StaffMember, StaffService
from easyflow.tenancy.service import TenantService
from http_baseline import _positive, fresh_database, run_benchmark

TARGET_MS = 200.0
DAYS = 30
MOSCOW = ZoneInfo("Europe/Moscow")
# A busy chair's day, with gaps between (what a real book looks like, and what leaves slots to find).
BOOKED_AT = [time(10, 0), time(11, 30), time(13, 0), time(15, 0), time(16, 30), time(18, 0)]
EVERY_DAY = [
    {"weekday": weekday, "start": "10:00", "end": "19:00", "breaks": [{"start": "14:00", "end": "15:00"}]}
    for weekday in range(7)
]


@dataclass(frozen=True)
class Findings:
    appointments: int
    slots: int
    search_ms: list[float]
    baseline_ms: list[float]


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


async def _seed(database: Database, per_day: int, others: int) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, int]:
    async with database.session() as session, session.begin():
        created = await TenantService(session).create("Bench salon", "owner@example.com", secrets.token_hex(16))
    tenant_id = created.tenant.id
    today = datetime.now(UTC).astimezone(MOSCOW).date()
    booked = 0
    async with database.tenant_transaction(tenant_id) as session:
        service = Service(tenant_id=tenant_id, name="Стрижка", duration_minutes=60, buffer_after_minutes=15)
        session.add(service)
        members = [
            StaffMember(tenant_id=tenant_id, name=f"Мастер {n}", working_hours=EVERY_DAY) for n in range(1 + others)
        ]
        session.add_all(members)
        await session.flush()
        for member in members:
            session.add(StaffService(tenant_id=tenant_id, staff_id=member.id, service_id=service.id))
            for offset in range(1, DAYS + 1):
                day = today + timedelta(days=offset)
                for clock in BOOKED_AT[:per_day]:
                    start = datetime.combine(day, clock).replace(tzinfo=MOSCOW)
                    session.add(
                        Appointment(
                            tenant_id=tenant_id,
                            booking_id=uuid.uuid4(),
                            service_id=service.id,
                            staff_id=member.id,
                            starts_at=start,
                            ends_at=start + timedelta(minutes=60),
                            buffer_after_minutes=15,
                            status="confirmed",
                            source="api",
                        )
                    )
                    booked += 1
        await session.flush()
    return tenant_id, service.id, members[0].id, booked


async def _measure(settings: Settings, args: argparse.Namespace) -> Findings:
    database = await Database.open(settings, pool_size=2)
    try:
        tenant_id, service_id, staff_id, booked = await _seed(database, args.per_day, args.others)
        today = datetime.now(UTC).astimezone(MOSCOW).date()
        first, last = today + timedelta(days=1), today + timedelta(days=DAYS)
        search_ms: list[float] = []
        baseline_ms: list[float] = []
        found = 0
        for run in range(args.runs + 3):
            async with database.tenant_transaction(tenant_id) as session:
                started = perf_counter()
                slots = await SlotFinder(session, tenant_id).slots(service_id, staff_id, first, last, datetime.now(UTC))
                elapsed = (perf_counter() - started) * 1000
            async with database.tenant_transaction(tenant_id) as session:
                started = perf_counter()
                await AppointmentRepository(session, tenant_id).busy(
                    [staff_id], datetime.now(UTC), datetime.now(UTC) + timedelta(days=DAYS + 2)
                )
                bare = (perf_counter() - started) * 1000
            if run >= 3:
                search_ms.append(elapsed)
                baseline_ms.append(bare)
                found = len(slots)
        return Findings(booked, found, search_ms, baseline_ms)
    finally:
        await database.close()


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def report(findings: Findings) -> None:
    print(
        f"{findings.appointments:,} appointments in the table; {DAYS} days of one member: {findings.slots} free slots"
    )
    print(f"{'':<44}{'p50':>8}{'p95':>8}{'max':>8}  (ms, {len(findings.search_ms)} runs)")
    for label, values in (
        ("slot search (SlotFinder.slots)", findings.search_ms),
        ("baseline: the busy-range query alone", findings.baseline_ms),
    ):
        print(f"{label:<44}{statistics.median(values):8.2f}{_p95(values):8.2f}{max(values):8.2f}")
    p95 = _p95(findings.search_ms)
    print(f"{'PASS' if p95 < TARGET_MS else 'FAIL'}: slot search p95 {p95:.1f} ms; target < {TARGET_MS:g} ms")


def run(args: argparse.Namespace) -> Findings:
    with ExitStack() as stack:
        fresh = fresh_database(stack)
        settings = _settings(fresh.url, fresh.workdir / "data")
        print("seeding and measuring ...", file=sys.stderr)
        return asyncio.run(_measure(settings, args))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=_positive(int), default=50, help="measured searches (default 50)")
    parser.add_argument(
        "--per-day", type=_positive(int), default=5, choices=range(1, 7), help="appointments a day per member (5)"
    )
    parser.add_argument("--others", type=int, default=9, help="other members with as many appointments (9)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    return run_benchmark(lambda: run(args), report)


if __name__ == "__main__":
    sys.exit(main())
