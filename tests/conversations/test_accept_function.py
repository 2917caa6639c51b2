"""easyflow_accept_message, the one statement that accepts a customer's message: what it writes, and that it
holds under racing requests, hostile input and the tenant walls. On a committed database of its own: a race
needs two transactions that really commit, and NOTIFY is only sent on commit."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from procrastinate import JobContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.channels.telegram_files import FETCH_FILES_JOB
from easyflow.config import Settings
from easyflow.conversations.accept import REPLY_JOB, ChannelRef, Inbound, InboundService
from easyflow.conversations.csat import COMMENT_WINDOW, RATING_WINDOW
from easyflow.conversations.repository import AcceptanceRequest, InboundRepository
from easyflow.conversations.schemas import AcceptedMessage
from easyflow.db import migrate
from easyflow.db.database import Database
from easyflow.db.embedded import app_login_url
from easyflow.db.session import enter_system_scope, scope_to_tenant
from easyflow.db.urls import psycopg_conninfo
from easyflow.kit import jobs
from easyflow.kit.jobs import deferral
from easyflow.live.events import LIVE_CHANNEL, LiveEvent, watch_key
from tests.conftest import TEST_SECRET_KEY, TenantFixture, make_tenant
from tests.support import create_database, drop_database

API = ChannelRef(type="api", key="api")
NOTIFY_WAIT_SECONDS = 10.0


@pytest.fixture(scope="module")
def committed_url(embedded_server: str) -> Iterator[str]:
    name = f"easyflow_accept_{os.getpid()}"
    url = create_database(embedded_server, name)
    migrate.upgrade(url)
    yield url
    drop_database(embedded_server, name)


@pytest.fixture
async def database(committed_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    settings = Settings(
        database_url=committed_url,
        database_app_url=app_login_url(committed_url),
        data_dir=tmp_path,
        secret_key=TEST_SECRET_KEY,
        embedding_provider="none",
    )
    db = await Database.open(settings, pool_size=4)
    yield db
    await db.close()


@pytest.fixture
async def tenant(database: Database) -> TenantFixture:
    return await make_tenant(database, "Кофейня")


def inbound(
    external_id: str,
    contact: str = "customer-1",
    text: str = "Здравствуйте",
    contact_name: str | None = None,
    contact_phone: str | None = None,
) -> Inbound:
    return Inbound(
        identity_kind="api",
        contact_external_id=contact,
        text=text,
        external_message_id=external_id,
        contact_name=contact_name,
        contact_phone=contact_phone,
    )


async def accept_in(
    session: AsyncSession, tenant_id: uuid.UUID, message: Inbound, jobs_first: tuple[str, ...] = ()
) -> AcceptedMessage:
    await scope_to_tenant(session, tenant_id)
    return await InboundService(session, tenant_id).accept(API, message, jobs_first=jobs_first)


async def accept(
    database: Database, tenant_id: uuid.UUID, message: Inbound, jobs_first: tuple[str, ...] = ()
) -> AcceptedMessage:
    async with database.session() as session, session.begin():
        return await accept_in(session, tenant_id, message, jobs_first)


async def rows(database: Database, query: str, **params: object) -> list[tuple]:
    """Read across tenants (system scope), as a test looking at the whole database."""
    async with database.session() as session, session.begin():
        await enter_system_scope(session)
        return [tuple(row) for row in await session.execute(text(query), params)]


# The funnel's job for a new conversation (tests/crm) is not the pipeline's: these tests count only the latter.
PIPELINE_JOBS = "AND task_name NOT LIKE 'crm.%'"


async def jobs_of(database: Database, conversation_id: uuid.UUID) -> list[tuple]:
    return await rows(
        database,
        "SELECT queue_name, task_name, lock, args FROM procrastinate_jobs "
        f"WHERE args->>'conversation_id' = :c {PIPELINE_JOBS} "
        "ORDER BY id",
        c=str(conversation_id),
    )


async def test_the_message_contact_conversation_and_reply_job_are_written_together(
    database: Database, tenant: TenantFixture
) -> None:
    accepted = await accept(database, tenant.id, inbound("m-1", contact_name="Айгерим", contact_phone="+77010000000"))
    assert not accepted.duplicate
    [message] = await rows(
        database,
        "SELECT m.conversation_id, m.role::text, m.text, m.dedupe_key, m.external_id, m.delivery_status::text "
        "FROM messages m WHERE m.id = :id",
        id=accepted.message_id,
    )
    assert message == (accepted.conversation_id, "contact", "Здравствуйте", "api:m-1", "m-1", "received")
    [conversation] = await rows(
        database,
        "SELECT c.channel_type, c.channel_key, c.status::text, a.is_default, k.name, k.phone, i.kind, i.external_id "
        "FROM conversations c JOIN assistants a ON a.id = c.assistant_id JOIN contacts k ON k.id = c.contact_id "
        "JOIN contact_identities i ON i.contact_id = k.id WHERE c.id = :id",
        id=accepted.conversation_id,
    )
    assert conversation == ("api", "api", "bot", True, "Айгерим", "+77010000000", "api", "customer-1")
    # The reply job is exactly what kit.jobs.defer would have queued: one place says what a job looks like.
    expected = deferral(REPLY_JOB, tenant_id=str(tenant.id), conversation_id=str(accepted.conversation_id))
    assert await jobs_of(database, accepted.conversation_id) == [
        (expected["queue"], expected["task"], expected["lock"], expected["args"])
    ]


async def test_jobs_the_reply_waits_for_are_queued_before_it_with_the_message_id(
    database: Database, tenant: TenantFixture
) -> None:
    accepted = await accept(database, tenant.id, inbound("photo-1"), jobs_first=(FETCH_FILES_JOB,))
    ids = {"tenant_id": str(tenant.id), "conversation_id": str(accepted.conversation_id)}
    fetch = deferral(FETCH_FILES_JOB, **ids, message_id=str(accepted.message_id))
    reply = deferral(REPLY_JOB, **ids)
    assert await jobs_of(database, accepted.conversation_id) == [
        (job["queue"], job["task"], job["lock"], job["args"]) for job in (fetch, reply)
    ]


async def test_the_live_event_is_heard_once_committed(
    database: Database, tenant: TenantFixture, committed_url: str
) -> None:
    async with await psycopg.AsyncConnection.connect(psycopg_conninfo(committed_url), autocommit=True) as listener:
        await listener.execute(f"LISTEN {LIVE_CHANNEL}")
        accepted = await accept(database, tenant.id, inbound("live-1", contact="watcher-1"))
        async with asyncio.timeout(NOTIFY_WAIT_SECONDS):
            notification = await anext(listener.notifies())
    assert LiveEvent.parse(notification.payload) == LiveEvent(
        accepted.conversation_id, "message", watcher=watch_key(tenant.id, "api", "watcher-1")
    )


async def test_a_redelivery_is_a_duplicate_with_the_first_ids_and_no_second_job(
    database: Database, tenant: TenantFixture
) -> None:
    first = await accept(database, tenant.id, inbound("again"))
    second = await accept(database, tenant.id, inbound("again", text="other text, same id"))
    assert second == AcceptedMessage(conversation_id=first.conversation_id, message_id=first.message_id, duplicate=True)
    assert len(await jobs_of(database, first.conversation_id)) == 1
    [(stored,)] = await rows(database, "SELECT text FROM messages WHERE dedupe_key = 'api:again'")
    assert stored == "Здравствуйте"


async def test_known_customers_keep_their_conversation_and_get_the_name_they_give(
    database: Database, tenant: TenantFixture
) -> None:
    first = await accept(database, tenant.id, inbound("k-1", contact_name="Old"))
    second = await accept(database, tenant.id, inbound("k-2", contact_name="New"))
    third = await accept(database, tenant.id, inbound("k-3"))  # no name given: the stored one stays
    assert first.conversation_id == second.conversation_id == third.conversation_id
    assert await rows(
        database,
        "SELECT k.name FROM contacts k JOIN conversations c ON c.contact_id = k.id WHERE c.id = :id",
        id=first.conversation_id,
    ) == [("New",)]


async def test_two_identical_messages_racing_are_stored_once(database: Database, tenant: TenantFixture) -> None:
    async with database.session() as first, database.session() as second:
        await first.begin()
        won = await accept_in(first, tenant.id, inbound("race-1", contact="racer"))
        await second.begin()
        # The second request reaches the same keys while the first has not committed: it waits for it.
        racing = asyncio.create_task(accept_in(second, tenant.id, inbound("race-1", contact="racer")))
        await asyncio.sleep(0.2)
        await first.commit()
        lost = await racing
        await second.commit()
    assert lost == AcceptedMessage(conversation_id=won.conversation_id, message_id=won.message_id, duplicate=True)
    assert await rows(database, "SELECT count(*) FROM messages WHERE dedupe_key = 'api:race-1'") == [(1,)]
    assert len(await jobs_of(database, won.conversation_id)) == 1


async def test_a_new_customers_first_messages_racing_share_one_contact_and_conversation(
    database: Database, tenant: TenantFixture
) -> None:
    async with database.session() as first, database.session() as second:
        await first.begin()
        one = await accept_in(first, tenant.id, inbound("new-1", contact="newcomer"))
        await second.begin()
        racing = asyncio.create_task(accept_in(second, tenant.id, inbound("new-2", contact="newcomer")))
        await asyncio.sleep(0.2)
        await first.commit()
        two = await racing
        await second.commit()
    assert not one.duplicate and not two.duplicate
    assert one.conversation_id == two.conversation_id
    contacts = await rows(
        database,
        "SELECT count(*) FROM contacts WHERE tenant_id = :t AND id NOT IN (SELECT contact_id FROM contact_identities)",
        t=tenant.id,
    )
    assert contacts == [(0,)], "the loser's contact must not be left behind without its identity"
    assert await rows(
        database,
        "SELECT count(*) FROM contact_identities WHERE tenant_id = :t AND external_id = 'newcomer'",
        t=tenant.id,
    ) == [(1,)]
    assert len(await jobs_of(database, one.conversation_id)) == 1, "the reply job waiting answers both"


@pytest.fixture
async def empty_queue(database: Database) -> None:
    """The module's database holds the jobs of its earlier tests: a worker would take those first."""
    async with database.session() as session, session.begin():
        await session.execute(text("DELETE FROM procrastinate_jobs"))


async def worker_takes_a_job(committed_url: str) -> int | None:
    """What procrastinate's worker does to take the next job from the conversations' queue: its own fetch,
    which skips locked jobs."""
    async with await psycopg.AsyncConnection.connect(psycopg_conninfo(committed_url), autocommit=True) as worker:
        [worker_id] = await (
            await worker.execute("SELECT worker_id FROM procrastinate_register_worker_v1()")
        ).fetchone()
        cursor = await worker.execute("SELECT id FROM procrastinate_fetch_job_v2(ARRAY['default'], %s)", (worker_id,))
        [job_id] = await cursor.fetchone()
        return job_id


@pytest.mark.usefixtures("empty_queue")
async def test_while_a_reply_job_waits_the_next_messages_defer_none_and_a_job_taken_is_not_waiting(
    database: Database, tenant: TenantFixture, committed_url: str
) -> None:
    first = await accept(database, tenant.id, inbound("burst-1", contact="burst"))
    second = await accept(database, tenant.id, inbound("burst-2", contact="burst"))
    assert second.conversation_id == first.conversation_id
    [(waiting, queueing_lock)] = await rows(
        database,
        f"SELECT id, queueing_lock FROM procrastinate_jobs WHERE args->>'conversation_id' = :c {PIPELINE_JOBS}",
        c=str(first.conversation_id),
    )
    assert queueing_lock == f"{REPLY_JOB}|conversation:{first.conversation_id}"

    assert await worker_takes_a_job(committed_url) == waiting
    await accept(database, tenant.id, inbound("burst-3", contact="burst"))
    assert [
        status
        for (status,) in await rows(
            database,
            "SELECT status::text FROM procrastinate_jobs "
            f"WHERE args->>'conversation_id' = :c {PIPELINE_JOBS} ORDER BY id",
            c=str(first.conversation_id),
        )
    ] == ["doing", "todo"], "the running reply gathered its messages already: the third gets a job of its own"


async def queueing_locks(database: Database, conversation_id: uuid.UUID) -> list[tuple]:
    return await rows(
        database,
        "SELECT id, status::text, queueing_lock FROM procrastinate_jobs "
        f"WHERE args->>'conversation_id' = :c {PIPELINE_JOBS} ORDER BY id",
        c=str(conversation_id),
    )


@pytest.mark.usefixtures("empty_queue")
async def test_a_running_reply_stops_waiting_so_its_retry_never_collides_with_the_one_deferred_meanwhile(
    database: Database, tenant: TenantFixture, committed_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await accept(database, tenant.id, inbound("retry-1", contact="retrier"))
    running = await worker_takes_a_job(committed_url)
    ran: list[dict[str, object]] = []

    async def handler_ran(runtime: object, name: str, args: dict[str, object], *, attempt_is_last: bool) -> None:
        ran.append(args)

    monkeypatch.setattr(jobs, "run_job", handler_ran)
    app = jobs.build_job_app(committed_url)
    async with app.open_async():
        [taken] = await app.job_manager.list_jobs_async(id=running)
        context = JobContext(
            app=app, job=taken, start_timestamp=0.0, abort_reason=lambda: None, additional_context={"runtime": None}
        )
        await jobs._procrastinate_task(jobs.JOBS[REPLY_JOB])(context, **taken.task_kwargs)
        await accept(database, tenant.id, inbound("retry-2", contact="retrier"))
        await app.job_manager.retry_job(taken)  # as procrastinate does after the handler raised

    waiting_lock = f"{REPLY_JOB}|conversation:{first.conversation_id}"
    assert ran == [taken.task_kwargs]
    assert [(status, lock) for _, status, lock in await queueing_locks(database, first.conversation_id)] == [
        ("todo", None),
        ("todo", waiting_lock),
    ]


@pytest.mark.usefixtures("empty_queue")
async def test_a_stalled_reply_is_retried_beside_the_one_deferred_while_its_worker_was_gone(
    database: Database, tenant: TenantFixture, committed_url: str
) -> None:
    first = await accept(database, tenant.id, inbound("stall-1", contact="staller"))
    await worker_takes_a_job(committed_url)  # and the worker dies before its handler starts
    await accept(database, tenant.id, inbound("stall-2", contact="staller"))
    async with database.session() as session, session.begin():
        await session.execute(text("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'"))

    app = jobs.build_job_app(committed_url)
    async with app.open_async():
        assert await jobs.retry_stalled_jobs(app, stalled_after_seconds=30) == 1

    statuses = [status for _, status, _ in await queueing_locks(database, first.conversation_id)]
    assert statuses == ["todo", "todo"]


@pytest.mark.usefixtures("empty_queue")
async def test_a_worker_does_not_take_the_waiting_reply_before_the_message_it_serves_is_committed(
    database: Database, tenant: TenantFixture, committed_url: str
) -> None:
    first = await accept(database, tenant.id, inbound("held-1", contact="holder"))
    [(waiting,)] = await rows(
        database,
        f"SELECT id FROM procrastinate_jobs WHERE args->>'conversation_id' = :c {PIPELINE_JOBS}",
        c=str(first.conversation_id),
    )
    async with database.session() as session:
        await session.begin()
        await accept_in(session, tenant.id, inbound("held-2", contact="holder"))
        assert await worker_takes_a_job(committed_url) is None, "taken now, it would miss the second message"
        await session.commit()
    assert await worker_takes_a_job(committed_url) == waiting


async def test_a_message_with_jobs_of_its_own_gets_its_own_reply_behind_them(
    database: Database, tenant: TenantFixture
) -> None:
    first = await accept(database, tenant.id, inbound("pic-0", contact="photographer"))
    second = await accept(database, tenant.id, inbound("pic-1", contact="photographer"), jobs_first=(FETCH_FILES_JOB,))
    jobs = await rows(
        database,
        "SELECT task_name, queueing_lock FROM procrastinate_jobs "
        f"WHERE args->>'conversation_id' = :c {PIPELINE_JOBS} ORDER BY id",
        c=str(first.conversation_id),
    )
    assert second.conversation_id == first.conversation_id
    assert jobs == [
        (REPLY_JOB, f"{REPLY_JOB}|conversation:{first.conversation_id}"),
        (FETCH_FILES_JOB, None),
        (REPLY_JOB, None),
    ]


async def test_a_rating_and_a_comment_racing_in_are_the_rating_then_its_comment(
    database: Database, tenant: TenantFixture
) -> None:
    asked = await accept(database, tenant.id, inbound("csat-0", contact="rater", text="Позовите оператора"))
    async with database.session() as session, session.begin():
        await enter_system_scope(session)
        await session.execute(
            text("UPDATE conversations SET status = 'resolved', resolved_at = now() WHERE id = :c"),
            {"c": asked.conversation_id},
        )
        await session.execute(
            text(
                "INSERT INTO conversation_ratings (id, tenant_id, conversation_id, requested_at) "
                "VALUES (gen_random_uuid(), :t, :c, now())"
            ),
            {"t": tenant.id, "c": asked.conversation_id},
        )
    async with database.session() as first, database.session() as second:
        await first.begin()
        rated = await accept_in(first, tenant.id, inbound("csat-1", contact="rater", text="5"))
        await second.begin()
        # The comment reaches the request while the rating has not committed: it waits, then sees the rating.
        racing = asyncio.create_task(accept_in(second, tenant.id, inbound("csat-2", contact="rater", text="Супер")))
        await asyncio.sleep(0.2)
        await first.commit()
        commented = await racing
        await second.commit()
    assert rated.conversation_id == commented.conversation_id == asked.conversation_id
    assert await rows(database, "SELECT rating, comment FROM conversation_ratings") == [(5, "Супер")]
    assert await rows(database, "SELECT status FROM conversations WHERE id = :c", c=asked.conversation_id) == [
        ("resolved",)
    ]
    answered = [(task, args["message_id"]) for _, task, _, args in (await jobs_of(database, asked.conversation_id))[1:]]
    assert answered == [
        ("inbox.csat_answered", str(rated.message_id)),
        ("inbox.csat_answered", str(commented.message_id)),
    ]


@pytest.mark.parametrize(
    "message",
    [
        inbound("nul-1", text="before\x00after"),
        inbound("nul-2", contact="cust\x00omer"),
        inbound("x" * 201),  # beyond the column's 200 characters
        inbound("long-name", contact_name="n" * 201),
    ],
    ids=["nul-in-text", "nul-in-contact", "oversized-external-id", "oversized-name"],
)
async def test_invalid_input_is_refused_and_nothing_is_stored(
    database: Database, tenant: TenantFixture, message: Inbound
) -> None:
    counted = (
        "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM contacts), "
        "(SELECT count(*) FROM procrastinate_jobs)"
    )
    before = await rows(database, counted)
    with pytest.raises((DBAPIError, ValueError)):
        await accept(database, tenant.id, message)
    assert await rows(database, counted) == before


async def test_a_tenant_other_than_the_transactions_is_refused(database: Database, tenant: TenantFixture) -> None:
    other = await make_tenant(database, "Other")
    async with database.tenant_transaction(tenant.id) as session:
        with pytest.raises(DBAPIError) as refused:
            await InboundService(session, other.id).accept(API, inbound("cross-1"))
    assert refused.value.orig is not None and refused.value.orig.sqlstate == "42501"
    async with database.session() as session, session.begin():
        await enter_system_scope(session)  # sees every tenant, yet may write into none through the function
        with pytest.raises(DBAPIError):
            await InboundRepository(session, other.id).accept(
                AcceptanceRequest(
                    channel_type="api",
                    channel_key="api",
                    identity_kind="api",
                    contact_external_id="c",
                    contact_name=None,
                    contact_phone=None,
                    text="hi",
                    external_message_id="cross-2",
                    attachments=[],
                    assistant_id=None,
                    live_channel=LIVE_CHANNEL,
                    live_payload="{}",
                    jobs=[],
                    route_jobs=[],
                    rating_given=None,
                    rating_window=RATING_WINDOW,
                    comment_window=COMMENT_WINDOW,
                    csat_jobs=[],
                )
            )
    assert await rows(database, "SELECT count(*) FROM messages WHERE tenant_id = :t", t=other.id) == [(0,)]


async def test_tenants_dedupe_and_know_their_customers_apart(database: Database, tenant: TenantFixture) -> None:
    other = await make_tenant(database, "Other")
    mine = await accept(database, tenant.id, inbound("same-id", contact="same-customer"))
    theirs = await accept(database, other.id, inbound("same-id", contact="same-customer"))
    assert not theirs.duplicate
    assert theirs.conversation_id != mine.conversation_id
    owners = await rows(
        database,
        "SELECT c.tenant_id, k.tenant_id FROM conversations c JOIN contacts k ON k.id = c.contact_id "
        "WHERE c.id IN (:a, :b) ORDER BY c.tenant_id = :t",
        a=mine.conversation_id,
        b=theirs.conversation_id,
        t=tenant.id,
    )
    assert owners == [(other.id, other.id), (tenant.id, tenant.id)]
