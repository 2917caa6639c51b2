"""Dashboard page speed (issue 11): every page of /app/ server-rendered with 10,000 conversations and 1,000
contacts in the tenant, beside a bare Jinja2 render of the same template with the same data.

Method
------
1. Start the embedded PostgreSQL in a temporary folder, migrate it, create a tenant with the `easyflow` CLI
   (owner with a known password) and start one `easyflow serve --no-worker` process on 127.0.0.1.
2. As the database owner, insert `--contacts` contacts and `--conversations` conversations into the tenant
   in SQL (INSERT ... SELECT generate_series): each contact writes in `conversations / contacts`
   conversations (each under its own channel key: one unresolved conversation per contact and channel);
   statuses resolved 40 %, bot 20 %, pending 15 %, open 20 % (held by the owner), snoozed 5 %; last activity
   spread over about 70 days (so the home page's "today" has about 1/70 of them); 2 messages each
   (customer, assistant) and a third customer message on half; then VACUUM ANALYZE.
3. Sign in through the sign-in form (GET /app/login for its CSRF token, POST /app/login) for a session cookie.
4. HTTP: each page is requested `--requests` times one after another over one keep-alive connection
   (httpx), after `--warmup` unmeasured requests; latency is client side, send to full body; every answer
   must be 200. The pages: home, the inbox's tabs and a search, a conversation, the contact list, a search and
   a contact, assistants and one assistant, knowledge, channels, team, API keys, settings, audit log.
5. Baseline, same run: the same app built in this process on the same database (`create_app` with a
   Runtime) answers each page once through httpx's ASGI transport while `Jinja2Templates.TemplateResponse`
   is wrapped to keep the template name and the context the route built; then that template's `render()`
   with that context is timed as many times as the HTTP requests. The difference is what routing, the session
   check, the database reads and HTTP add to the render itself.

Target (issue 11): p95 < 100 ms for every page. The script exits 0 whatever the verdict; only a crash fails it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.runtime import Runtime
from easyflow.web import page as web_page
from http_baseline import (
    _positive,
    create_tenant,
    fresh_database,
    run_benchmark,
    serve,
)
from inbox import FIRST_NAMES, LAST_NAMES, SEARCH

TARGET_P95_MS = 100.0
OWNER_EMAIL = "owner@example.com"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

_LOAD = """
CREATE TEMP TABLE bench_contacts AS
SELECT c, gen_random_uuid() AS contact_id FROM generate_series(1, %(contacts)s) AS c;

INSERT INTO contacts (id, tenant_id, name, phone, unreachable, labels, created_at)
SELECT contact_id, %(tenant)s,
       (%(first)s::text[])[1 + c %% 20] || ' ' || (%(last)s::text[])[1 + (c / 20) %% 25] || ' ' || c,
       CASE WHEN c %% 3 = 0 THEN '+7900' || lpad(c::text, 7, '0') END, false, '{}', now() - interval '80 days'
FROM bench_contacts;

INSERT INTO contact_identities (id, tenant_id, contact_id, kind, external_id, created_at)
SELECT gen_random_uuid(), %(tenant)s, contact_id, 'api', 'customer-' || c, now() - interval '80 days'
FROM bench_contacts;

CREATE TEMP TABLE bench_seed AS
SELECT g, (SELECT contact_id FROM bench_contacts WHERE c = 1 + g %% %(contacts)s) AS contact_id,
       gen_random_uuid() AS conversation_id,
       now() - ((g::bigint * 7919) %% 100000) * interval '1 minute' AS active,
       CASE WHEN g %% 20 < 8 THEN 'resolved' WHEN g %% 20 < 12 THEN 'bot' WHEN g %% 20 < 15 THEN 'pending'
            WHEN g %% 20 < 19 THEN 'open' ELSE 'snoozed' END::conversation_status AS status
FROM generate_series(1, %(conversations)s) AS g;

INSERT INTO conversations (id, tenant_id, contact_id, channel_type, channel_key, assistant_id, status,
                           status_changed_at, assignee_id, last_assignee_id, resolved_at, snoozed_until,
                           unanswered_turns, labels, summary, summarized_up_to, last_activity_at, created_at)
SELECT conversation_id, %(tenant)s, contact_id, 'api', 'api-' || (g / %(contacts)s), %(assistant)s, status, active,
       CASE WHEN status = 'open' THEN %(owner)s::uuid END,
       CASE WHEN status IN ('open', 'resolved') THEN %(owner)s::uuid END,
       CASE WHEN status = 'resolved' THEN active END,
       CASE WHEN status = 'snoozed' THEN now() + interval '1 day' END,
       0, CASE WHEN g %% 10 = 0 THEN '{vip}'::varchar[] ELSE '{}' END, '', 0, active, active - interval '1 hour'
FROM bench_seed;

INSERT INTO messages (id, tenant_id, conversation_id, role, text, attachments, buttons, citations, reply_to,
                      delivery_status, private, created_at, answered_at)
SELECT gen_random_uuid(), %(tenant)s, conversation_id,
       CASE WHEN k = 2 THEN 'assistant' ELSE 'contact' END::message_role,
       CASE k WHEN 1 THEN 'Здравствуйте! Сколько стоит доставка по городу?'
              WHEN 2 THEN 'Доставка по городу — 300 ₽, бесплатно от 3000 ₽.'
              ELSE 'А в субботу привезёте? Мне нужно к обеду.' END,
       '[]', '[]', '[]', '[]', CASE WHEN k = 2 THEN 'stored' ELSE 'received' END::delivery_status, false,
       active - (3 - k) * interval '1 minute',
       CASE WHEN k = 1 THEN active - interval '1 minute' WHEN k = 3 AND g %% 4 <> 0 THEN active END
FROM bench_seed CROSS JOIN generate_series(1, 3) AS k
WHERE k < 3 OR g %% 2 = 0
ORDER BY g, k;
"""


@dataclass(frozen=True)
class Loaded:
    contacts: int
    conversations: int
    messages: int
    conversation_id: str
    contact_id: str
    assistant_id: str


@dataclass(frozen=True)
class PageFigures:
    name: str
    path: str
    template: str
    http_p50_ms: float
    http_p95_ms: float
    http_max_ms: float
    render_p50_ms: float
    render_p95_ms: float
    bytes: int
    errors: int


def _load(url: str, tenant_id: str, contacts: int, conversations: int) -> Loaded:
    with psycopg.connect(url, autocommit=True) as connection:
        (assistant,) = connection.execute(
            "SELECT id FROM assistants WHERE tenant_id = %s AND is_default", (tenant_id,)
        ).fetchone() or (None,)
        (owner,) = connection.execute("SELECT id FROM users WHERE email = %s", (OWNER_EMAIL,)).fetchone() or (None,)
        with connection.transaction(), psycopg.ClientCursor(connection) as cursor:
            cursor.execute(  # client-side binding: the several statements go as one
                _LOAD,
                {
                    "contacts": contacts,
                    "conversations": conversations,
                    "tenant": tenant_id,
                    "assistant": assistant,
                    "owner": owner,
                    "first": list(FIRST_NAMES),
                    "last": list(LAST_NAMES),
                },
            )
        for table in ("contacts", "contact_identities", "conversations", "messages"):
            connection.execute(f"VACUUM (ANALYZE) {table}")

        def count(table: str) -> int:
            row = connection.execute(f"SELECT count(*) FROM {table} WHERE tenant_id = %s", (tenant_id,)).fetchone()  # noqa: S608  (constants)
            return int(row[0]) if row else 0

        busiest = connection.execute(
            "SELECT contact_id, max(id::text) FROM conversations WHERE tenant_id = %s GROUP BY contact_id "
            "ORDER BY count(*) DESC LIMIT 1",
            (tenant_id,),
        ).fetchone()
        assert busiest is not None
        return Loaded(
            contacts=count("contacts"),
            conversations=count("conversations"),
            messages=count("messages"),
            conversation_id=str(busiest[1]),
            contact_id=str(busiest[0]),
            assistant_id=str(assistant),
        )


def _pages(loaded: Loaded) -> list[tuple[str, str]]:
    return [
        ("home", "/app/"),
        ("inbox: mine", "/app/inbox"),
        ("inbox: unassigned", "/app/inbox?tab=unassigned"),
        ("inbox: all", "/app/inbox?tab=all"),
        ("inbox: resolved", "/app/inbox?tab=resolved"),
        (f"inbox: all, q={SEARCH}", f"/app/inbox?tab=all&q={SEARCH}"),
        ("conversation", f"/app/conversations/{loaded.conversation_id}"),
        ("contacts", "/app/contacts"),
        (f"contacts: q={SEARCH}", f"/app/contacts?q={SEARCH}"),
        ("imports", "/app/imports"),
        ("contact", f"/app/contacts/{loaded.contact_id}"),
        ("assistants", "/app/assistants"),
        ("assistant", f"/app/assistants/{loaded.assistant_id}"),
        ("knowledge", "/app/knowledge"),
        ("channels", "/app/channels"),
        ("team", "/app/team"),
        ("api keys", "/app/api-keys"),
        ("settings", "/app/settings"),
        ("audit log", "/app/audit"),
    ]


def _sign_in(client: httpx.Client, password: str) -> None:
    form = client.get("/app/login")
    found = CSRF.search(form.text)
    if found is None:
        raise RuntimeError(f"GET /app/login answered {form.status_code} without a CSRF token")
    signed = client.post("/app/login", data={"email": OWNER_EMAIL, "password": password, "csrf_token": found.group(1)})
    if signed.status_code != 303 or signed.headers.get("location") != "/app/":
        raise RuntimeError(f"POST /app/login answered {signed.status_code}: {signed.text[:300]}")


def _percentile(values: list[float], cut: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[cut - 1] if len(values) > 1 else values[0]


def _time_http(client: httpx.Client, path: str, requests: int, warmup: int) -> tuple[list[float], int, int]:
    latencies, errors, size = [], 0, 0
    for index in range(warmup + requests):
        started = time.perf_counter()
        answer = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if index < warmup:
            continue
        if answer.status_code != 200:
            errors += 1
            continue
        latencies.append(elapsed)
        size = len(answer.content)
    return latencies, errors, size


@contextmanager
def _templates_recorded() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every TemplateResponse the pages build, with its template name and context."""
    recorded: list[tuple[str, dict[str, Any]]] = []
    original = web_page.templates.TemplateResponse

    def recording(request: Any, name: str, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        recorded.append((name, {**context, "request": request}))
        return original(request, name, context, *args, **kwargs)

    web_page.templates.TemplateResponse = recording  # type: ignore[method-assign]
    try:
        yield recorded
    finally:
        web_page.templates.TemplateResponse = original  # type: ignore[method-assign]


async def _contexts(env: dict[str, str], password: str, paths: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Each page's template and context, built by the same app in this process on the same database."""
    os.environ.update(env)
    settings = Settings()
    database = await Database.open(settings)
    runtime = Runtime.create(settings, database)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, runtime=runtime), client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            form = await client.get("/app/login")
            found = CSRF.search(form.text)
            assert found is not None, form.text
            await client.post(
                "/app/login", data={"email": OWNER_EMAIL, "password": password, "csrf_token": found.group(1)}
            )
            built = []
            for path in paths:
                with _templates_recorded() as recorded:
                    answer = await client.get(path)
                if answer.status_code != 200 or not recorded:
                    raise RuntimeError(f"in-process GET {path} answered {answer.status_code}")
                built.append(recorded[-1])
            return built
    finally:
        await runtime.close()
        await database.close()


def _time_render(template: str, context: dict[str, Any], requests: int, warmup: int) -> list[float]:
    compiled = web_page.templates.get_template(template)
    latencies = []
    for index in range(warmup + requests):
        started = time.perf_counter()
        compiled.render(context)
        if index >= warmup:
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


@dataclass
class Findings:
    loaded: Loaded
    load_seconds: float
    pages: list[PageFigures]


def run(args: argparse.Namespace) -> Findings:
    with ExitStack() as stack:
        database = fresh_database(stack)
        url, env = database.url, database.env
        password = secrets.token_hex(16)
        tenant_id = create_tenant(database.easyflow, env, database.workdir, "Bench Salon", password)["tenant_id"]
        print(f"loading {args.conversations:,} conversations of {args.contacts:,} contacts ...", file=sys.stderr)
        started = time.perf_counter()
        loaded = _load(url, tenant_id, args.contacts, args.conversations)
        load_seconds = time.perf_counter() - started

        base_url = serve(stack, database, "--no-worker")
        pages = _pages(loaded)
        print("building each page's template context in this process ...", file=sys.stderr)
        contexts = asyncio.run(_contexts(env, password, [path for _, path in pages]))
        figures = []
        with httpx.Client(base_url=base_url, timeout=30.0, trust_env=False) as client:
            client.headers["Accept-Language"] = "ru-RU,ru;q=0.9"
            _sign_in(client, password)
            for (name, path), (template, context) in zip(pages, contexts, strict=True):
                print(f"timing {name} ...", file=sys.stderr)
                latencies, errors, size = _time_http(client, path, args.requests, args.warmup)
                renders = _time_render(template, context, args.requests, args.warmup)
                figures.append(
                    PageFigures(
                        name=name,
                        path=path,
                        template=template,
                        http_p50_ms=_percentile(latencies, 50) if latencies else float("nan"),
                        http_p95_ms=_percentile(latencies, 95) if latencies else float("nan"),
                        http_max_ms=max(latencies) if latencies else float("nan"),
                        render_p50_ms=_percentile(renders, 50),
                        render_p95_ms=_percentile(renders, 95),
                        bytes=size,
                        errors=errors,
                    )
                )
        return Findings(loaded, load_seconds, figures)


def report(findings: Findings, args: argparse.Namespace) -> None:
    loaded = findings.loaded
    print(
        f"tenant: {loaded.contacts:,} contacts, {loaded.conversations:,} conversations, {loaded.messages:,} "
        f"messages (loaded in {findings.load_seconds:.1f} s); {args.requests} requests per page after "
        f"{args.warmup} unmeasured"
    )
    print(
        f"{'page':<26}{'template':<26}{'HTTP p50':>10}{'HTTP p95':>10}{'HTTP max':>10}"
        f"{'render p50':>12}{'render p95':>12}{'KB':>7}{'errors':>8}"
    )
    for page in findings.pages:
        print(
            f"{page.name:<26}{page.template:<26}{page.http_p50_ms:>10.1f}{page.http_p95_ms:>10.1f}"
            f"{page.http_max_ms:>10.1f}{page.render_p50_ms:>12.2f}{page.render_p95_ms:>12.2f}"
            f"{page.bytes / 1024:>7.1f}{page.errors:>8}"
        )
    slowest = max(findings.pages, key=lambda page: page.http_p95_ms)
    passed = all(page.http_p95_ms < TARGET_P95_MS and page.errors == 0 for page in findings.pages)
    print(
        f"{'PASS' if passed else 'FAIL'}: slowest page p95 {slowest.http_p95_ms:.1f} ms ({slowest.name}); "
        f"target < {TARGET_P95_MS:g} ms on every page, no errors (times in ms, client side)"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "How fast each dashboard page answers (server-rendered HTML, signed in by the session cookie) in a "
            "tenant with 10,000 conversations and 1,000 contacts, beside a bare Jinja2 render of the same "
            "template with the same data. Runs locally on a throw-away embedded PostgreSQL with one `easyflow "
            "serve --no-worker` on 127.0.0.1."
        ),
        epilog=f"Target: p95 < {TARGET_P95_MS:g} ms on every page, printed with PASS or FAIL. Always exits 0 "
        "unless the benchmark itself breaks.",
    )
    parser.add_argument(
        "--conversations", type=_positive(int), default=10_000, help="conversations loaded (default: 10000)"
    )
    parser.add_argument("--contacts", type=_positive(int), default=1_000, help="contacts loaded (default: 1000)")
    parser.add_argument(
        "--requests", type=_positive(int), default=100, help="measured requests per page (default: 100)"
    )
    parser.add_argument("--warmup", type=_positive(int), default=10, help="unmeasured requests first (default: 10)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    return run_benchmark(lambda: run(args), lambda findings: report(findings, args))


if __name__ == "__main__":
    sys.exit(main())
