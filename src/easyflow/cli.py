"""The `easyflow` command: serve the API, migrate the database, manage tenants, users and keys."""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import typer
from pydantic import ValidationError

from easyflow.config import Settings, get_settings
from easyflow.db import migrate as migrations
from easyflow.db.database import Database, resolve_url, with_server
from easyflow.db.embedded import EmbeddedDataNeedsUpgrade, EmbeddedPostgres
from easyflow.db.urls import redacted
from easyflow.kit.errors import DomainError, NotFound
from easyflow.models.tenancy import Role
from easyflow.observability.logging import configure_logging
from easyflow.tenancy import schemas
from easyflow.tenancy.principal import Principal
from easyflow.tenancy.service import ApiKeyService, MemberService, TenantService

T = TypeVar("T")
WEBSOCKET_MAX_FRAME_BYTES = 64 * 1024

app = typer.Typer(
    help="easyflow: AI assistants for small businesses. Without EASYFLOW_DATABASE_URL every command uses "
    "the embedded PostgreSQL in EASYFLOW_DATA_DIR (default ./.easyflow).",
    no_args_is_help=True,
    add_completion=False,
)
tenant_app = typer.Typer(help="Create tenants.", no_args_is_help=True)
user_app = typer.Typer(help="Add users to a tenant.", no_args_is_help=True)
apikey_app = typer.Typer(help="Create tenant API keys.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(user_app, name="user")
kb_app = typer.Typer(help="Fill and search a tenant's knowledge base.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
app.add_typer(kb_app, name="kb")
catalogue_app = typer.Typer(help="Fill a tenant's catalogue of services and products.", no_args_is_help=True)
app.add_typer(catalogue_app, name="catalogue")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
TenantOption = Annotated[uuid.UUID, typer.Option("--tenant", help="The tenant's id.")]


def _settings() -> Settings:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _run(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Open the database, run `work` inside it, close it (stopping an embedded server this started)."""

    async def main() -> T:
        database = await Database.open(settings, pool_size=4)
        try:
            return await work(database)
        finally:
            await database.close()

    try:
        return asyncio.run(main())
    except DomainError as error:
        _fail(error.detail, error)
    except EmbeddedDataNeedsUpgrade as error:
        _fail(str(error), error)


def _fail(message: str, error: Exception) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=1) from error


def _member_request(**fields: Any) -> schemas.MemberCreate:
    """The request as the API would validate it (e.g. a guessable password), refused with its reasons."""
    try:
        return schemas.MemberCreate(**fields)
    except ValidationError as error:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()), error)


def _resolve(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
    """The server to use (see `resolve_url`); a data folder of an older embedded server is a clear refusal."""
    try:
        return resolve_url(settings)
    except EmbeddedDataNeedsUpgrade as error:
        _fail(str(error), error)


def _print(data: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(data, default=str))
    else:
        for line in lines:
            typer.echo(line)


@app.command()
def migrate() -> None:
    """Apply database migrations up to the latest schema."""
    settings = _settings()
    url, embedded = _resolve(settings)
    try:
        migrations.upgrade(url)
        typer.echo(f"database {redacted(url)} is at revision {migrations.current_revision(url)}")
    finally:
        if embedded is not None:
            embedded.stop()


@app.command("upgrade-embedded")
def upgrade_embedded(
    data_dir: Annotated[
        Path | None, typer.Option(help="The data folder holding pgdata/ [default: EASYFLOW_DATA_DIR].")
    ] = None,
    old_bin: Annotated[
        Path | None,
        typer.Option(help="Binaries of the old PostgreSQL [default: those of the installed pgserver package]."),
    ] = None,
) -> None:
    """Upgrade an embedded data folder made by an older PostgreSQL (easyflow before PostgreSQL 18 used
    pgserver's 16) to the bundled version with pg_upgrade. The old folder is kept beside it as a backup.
    Stop every easyflow process using the folder first."""
    from easyflow.db.embedded_upgrade import UpgradeError, update_extensions, upgrade_data_folder

    folder = data_dir or _settings().data_dir
    typer.echo(f"Upgrading {folder.resolve() / 'pgdata'} (this copies the data; it can take a while) ...", err=True)
    try:
        result = upgrade_data_folder(folder, old_bin=old_bin)
    except UpgradeError as error:
        _fail(str(error), error)
    server = EmbeddedPostgres(folder)
    try:
        updated = update_extensions(server.start())
    finally:
        server.stop()
    typer.echo(f"Upgraded PostgreSQL {result.from_version} -> {result.to_version}.")
    if updated:
        typer.echo(f"pgvector updated in: {', '.join(updated)}.")
    typer.echo(f"The old folder is kept at {result.backup}; delete it once you have checked your data.")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on [default: EASYFLOW_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: EASYFLOW_PORT].")] = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not run background jobs in this process.")] = False,
) -> None:
    """Migrate the database, then serve the HTTP API (and, unless --no-worker, background jobs)."""
    _serve(_settings(), host, port, run_worker=not no_worker)


def _serve(
    settings: Settings,
    host: str | None,
    port: int | None,
    *,
    run_worker: bool,
    before_serving: Callable[[Settings], tuple[str, Settings]] | None = None,
) -> None:
    """Start or reach the database, migrate it, run `before_serving` (which returns a banner and the
    settings to serve with), serve."""
    import uvicorn

    from easyflow.app import create_app

    # uvicorn re-raises SIGTERM once it has shut down; turning it into SystemExit lets `finally` stop
    # the embedded server instead of the process dying with it still running.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    if settings.database_url is None:
        typer.echo(f"Starting the embedded PostgreSQL in {settings.data_dir.resolve()} ...", err=True)
    url, embedded = _resolve(settings)
    try:
        served = with_server(settings, url, embedded)
        _prepare(served)
        if before_serving is not None:
            banner, served = before_serving(served)
            typer.echo(banner)
        app = create_app(served, run_worker_in_process=run_worker)
        # Start-up leaves ~400k long-lived objects (imported modules, models); frozen, every later full garbage
        # collection skips them, which shortens the pauses that stall all open WebSockets at once.
        gc.collect()
        gc.freeze()
        uvicorn.run(
            app,
            host=host or settings.host,
            port=port or settings.port,
            log_config=None,
            access_log=False,
            # Behind a proxy, per-address limits (sign-in, new widget chats) must count the real clients.
            proxy_headers=served.trusted_proxies is not None,
            forwarded_allow_ips=served.trusted_proxies,
            # WebSocket frames are small JSON (the widget's are under 16 KB); uvicorn would buffer up to 16 MiB.
            ws_max_size=WEBSOCKET_MAX_FRAME_BYTES,
        )
    finally:
        if embedded is not None:
            embedded.stop()


def _prepare(served: Settings) -> None:
    """What a server or worker does before it starts: migrate and index the embedding model (as the schema's
    owner), queue re-embedding of knowledge that another model embedded."""
    from easyflow import wiring
    from easyflow.knowledge.maintenance import ensure_vector_indexes, queue_reembedding

    assert wiring.REGISTERING_MODULES
    assert served.database_url is not None
    migrations.upgrade(served.database_url)
    ensure_vector_indexes(served.database_url, served)
    _run(served, lambda database: queue_reembedding(database, served))


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            help="Conversation jobs (replies, deliveries) run at once (default: EASYFLOW_WORKER_CONCURRENCY).", min=1
        ),
    ] = None,
    ingestion_concurrency: Annotated[
        int | None,
        typer.Option(
            help="Knowledge-base jobs run at once, in slots of their own "
            "(default: EASYFLOW_WORKER_INGESTION_CONCURRENCY).",
            min=1,
        ),
    ] = None,
) -> None:
    """Work the background job queues (replies, deliveries, knowledge ingestion) until stopped; run as many
    as you need."""
    from easyflow import wiring
    from easyflow.kit.jobs import run_worker
    from easyflow.runtime import Runtime

    settings = _settings()
    assert wiring.REGISTERING_MODULES

    async def work(database: Database) -> None:
        runtime = Runtime.create(settings, database)
        task = asyncio.ensure_future(
            run_worker(
                runtime,
                pools=wiring.worker_pools(settings, replies=concurrency, ingestion=ingestion_concurrency),
                stalled_after_seconds=settings.stalled_job_seconds,
                heartbeat_seconds=settings.worker_heartbeat_seconds,
                companions=wiring.worker_companions(runtime),
            )
        )
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(stop_signal, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            typer.echo("worker stopped", err=True)
        finally:
            await runtime.close()

    url, embedded = _resolve(settings)
    try:
        served = with_server(settings, url, embedded)
        _prepare(served)
        _run(served, work)
    finally:
        if embedded is not None:
            embedded.stop()


@tenant_app.command("create")
def tenant_create(
    name: Annotated[str, typer.Option(help="The business's name.")],
    owner_email: Annotated[str, typer.Option(help="The owner's email (an existing user keeps their password).")],
    owner_password: Annotated[
        str, typer.Option(help="The owner's password (at least 10 characters, not a common or guessable one).")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Create a tenant with its owner and print its id and a first API key."""
    owner = _member_request(email=owner_email, password=owner_password, role=Role.owner)

    async def work(database: Database) -> dict[str, str]:
        async with database.session() as session, session.begin():
            created = await TenantService(session).create(name, owner.email, owner_password)
            return {"tenant_id": str(created.tenant.id), "api_key": created.api_key}

    result = _run(_settings(), work)
    _print(
        result,
        as_json,
        [
            f"tenant_id: {result['tenant_id']}",
            f"api_key:   {result['api_key']}",
            "Keep the API key: it is shown only now.",
        ],
    )


@user_app.command("add")
def user_add(
    tenant: TenantOption,
    email: Annotated[str, typer.Option(help="The user's email.")],
    password: Annotated[str | None, typer.Option(help="Password for a new user; omit for an existing one.")] = None,
    role: Annotated[Role, typer.Option(help="Their role in the tenant.")] = Role.operator,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Add a user to a tenant (creating the account when it does not exist)."""
    request = _member_request(email=email, password=password, role=role, name=name)

    async def work(database: Database) -> schemas.MemberRead:
        async with database.tenant_transaction(tenant) as session:
            await _require_tenant(session, tenant)
            return await MemberService(session, Principal(tenant_id=tenant, role=Role.owner)).add(request)

    member = _run(_settings(), work)
    _print(member.model_dump(mode="json"), as_json, [f"added {member.email} as {member.role.value}"])


@apikey_app.command("create")
def apikey_create(
    tenant: TenantOption,
    name: Annotated[str, typer.Option(help="What the key is for.")] = "CLI key",
    role: Annotated[Role, typer.Option(help="admin, operator or viewer.")] = Role.admin,
    as_json: JsonFlag = False,
) -> None:
    """Create an API key for a tenant and print it (it is shown only once)."""
    request = schemas.ApiKeyCreate.model_validate({"name": name, "role": role})

    async def work(database: Database) -> dict[str, str]:
        async with database.tenant_transaction(tenant) as session:
            await _require_tenant(session, tenant)
            key, whole_key = await ApiKeyService(session, tenant).create(request, created_by=None)
            return {"id": str(key.id), "api_key": whole_key}

    result = _run(_settings(), work)
    _print(result, as_json, [f"api_key: {result['api_key']}", "Keep it: it is shown only now."])


async def _require_tenant(session: Any, tenant_id: uuid.UUID) -> None:
    """An unknown tenant id is a clear error (the transaction's scope alone would only show nothing)."""
    await TenantService(session).read(tenant_id)


@kb_app.command("import")
def kb_import(
    tenant: TenantOption,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (read recursively).", exists=True)],
    background: Annotated[
        bool, typer.Option("--background", help="Only queue the files; a running worker indexes them.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add PDF, DOCX, TXT, Markdown and HTML files to a tenant's knowledge base and index them."""
    from easyflow.knowledge.service import DocumentService, IngestionPipeline
    from easyflow.runtime import Runtime

    settings = _settings()
    files = sorted({f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()})

    async def work(database: Database) -> list[dict[str, Any]]:
        runtime = Runtime.create(settings, database)
        results: list[dict[str, Any]] = []
        try:
            for file in files:
                results.append(await _import_one(runtime, file))
        finally:
            await runtime.close()
        return results

    async def _import_one(runtime: Any, file: Path) -> dict[str, Any]:
        data = await asyncio.to_thread(file.read_bytes)
        try:
            async with runtime.database.tenant_transaction(tenant) as session:
                await _require_tenant(session, tenant)
                document = await DocumentService(session, tenant).upload(
                    str(file), data, max_bytes=settings.max_upload_bytes, queue=background
                )
        except DomainError as error:
            if isinstance(error, NotFound):
                raise
            return {"path": str(file), "id": None, "status": "refused", "error": error.detail}
        if not background:
            typer.echo(f"indexing {file} ...", err=True)
            await IngestionPipeline(runtime).ingest(tenant, document.id)
        async with runtime.database.tenant_transaction(tenant) as session:
            document = await DocumentService(session, tenant).get(document.id)
            return {
                "path": str(file),
                "id": str(document.id),
                "status": document.status.value,
                "chunks": document.chunk_count,
                "error": document.error,
            }

    results = _run(settings, work)
    lines = [
        f"{r['status']:<8} {r['path']}"
        + (f"  ({r['chunks']} chunks)" if r.get("chunks") else "")
        + (f"  {r['error']}" if r.get("error") else "")
        for r in results
    ]
    _print({"documents": results}, as_json, lines or ["no files found"])
    if as_json:
        return
    if any(r["status"] in ("failed", "refused") for r in results):
        raise typer.Exit(code=1)


@app.command("import")
def import_history(
    tenant: TenantOption,
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="WhatsApp exports (.txt or .zip), Telegram result.json, CSVs of contacts, zips of many, or folders.",
            exists=True,
        ),
    ],
    business: Annotated[
        str | None, typer.Option("--business", help="The name or number that is the business's side in the chats.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Import a business's chat history (customers, conversations, messages at their original times) and print
    the report; what was imported before is not added again."""
    from easyflow.crm.imports.archive import folder_as_zip
    from easyflow.crm.imports.schemas import ImportRead
    from easyflow.crm.imports.service import import_now

    settings = _settings()
    uploads = [(f"{p.name}.zip", folder_as_zip(p)) if p.is_dir() else (p.name, p.read_bytes()) for p in paths]

    async def work(database: Database) -> dict[str, Any]:
        async with database.tenant_transaction(tenant) as session:
            await _require_tenant(session, tenant)
        finished = await import_now(database, settings, tenant, uploads, business=business)
        return ImportRead.model_validate(finished).model_dump(mode="json")

    result = _run(settings, work)
    report = result["report"]
    lines = [
        f"{result['status']}: {report['chats']} chats, {report['messages']} messages, "
        f"{report['contacts_created']} contacts created, {report['contacts_matched']} matched, "
        f"{report['duplicates_skipped']} already imported",
    ]
    for unreadable in report["unreadable"]:
        where = f"{unreadable['file']}:{unreadable['line']}" if unreadable["line"] else unreadable["file"]
        lines.append(f"unreadable: {where}  {unreadable['text']}")
    if result["error"]:
        lines.append(f"error: {result['error']}")
    _print(result, as_json, lines)
    if result["status"] == "failed":
        raise typer.Exit(code=1)


@catalogue_app.command("import")
def catalogue_import(
    tenant: TenantOption,
    kind: Annotated[
        Literal["services", "products"], typer.Option("--kind", help="What the file lists: services or products.")
    ],
    path: Annotated[
        Path, typer.Argument(help="A CSV or XLSX price list.", exists=True, dir_okay=False, metavar="FILE")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report what would be created and updated, and the bad rows.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import a price list into a tenant's catalogue. A row whose name matches a stored item (in any case)
    updates it, the others are created; bad rows are reported by number and skipped. Columns in Russian or
    English: «Название»/name, «Цена»/price («1 500,50», «от 1 500»), «Длительность»/duration_minutes,
    «Категория»/category, «Валюта»/currency, «Остаток»/stock... (see docs/catalogue.md). Exits with 1 when a
    row was refused."""
    from easyflow.catalogue.importing import CatalogueImport

    settings = _settings()
    data = path.read_bytes()
    limit = settings.catalogue_import_max_bytes
    if len(data) > limit:
        _fail(f"{path} is larger than the import limit of {limit:,} bytes.", ValueError(path))

    async def work(database: Database) -> dict[str, Any]:
        async with database.tenant_transaction(tenant) as session:
            await _require_tenant(session, tenant)
            report = await CatalogueImport(session, tenant).run(kind, data, path.name, dry_run=dry_run)
            return report.model_dump(mode="json")

    report = _run(settings, work)
    would = "would be " if dry_run else ""
    lines = [f"{report['created']} {kind} {would}created, {report['updated']} {would}updated"]
    lines += [f"row {error['row']}: {'; '.join(error['problems'])}" for error in report["errors"]]
    if report["ignored_columns"]:
        lines.append("ignored columns: " + ", ".join(report["ignored_columns"]))
    _print(report, as_json, lines)
    if report["errors_total"]:
        raise typer.Exit(code=1)


@kb_app.command("search")
def kb_search(
    tenant: TenantOption,
    query: Annotated[str, typer.Argument(help="What to look for, in the customer's words.")],
    limit: Annotated[int, typer.Option(help="How many results.", min=1, max=50)] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Search a tenant's knowledge base as the assistants do (best first)."""
    from easyflow.knowledge.search import KnowledgeSearch
    from easyflow.runtime import Runtime

    settings = _settings()

    async def work(database: Database) -> tuple[list[dict[str, Any]], str]:
        runtime = Runtime.create(settings, database)
        try:
            async with database.tenant_transaction(tenant) as session:
                await _require_tenant(session, tenant)
                assert isinstance(runtime.retriever, KnowledgeSearch)
                outcome = await runtime.retriever.run(session, tenant, query, limit)
        finally:
            await runtime.close()
        return [
            {"document": p.document, "section": p.section, "chunk_id": p.chunk_id, "score": p.score, "text": p.text}
            for p in outcome.passages
        ], outcome.mode

    results, mode = _run(settings, work)
    if as_json:
        typer.echo(json.dumps(results, ensure_ascii=False))
        return
    typer.echo(f"({mode} search)", err=True)
    for number, result in enumerate(results, start=1):
        typer.echo(f"{number}. [{result['score']:.2f}] {result['document']} — {result['section']}")
        typer.echo("   " + result["text"][:300].replace("\n", " "))
    if not results:
        typer.echo("nothing found")


@app.command()
def demo(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve on the embedded database with a seeded demo tenant and a demo shop page carrying the chat
    widget, printing where to go and how to sign in."""
    from easyflow.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo

    settings = _settings()

    def seed_and_describe(served: Settings) -> tuple[str, Settings]:
        listen_port = port or settings.port
        base = f"http://{host or settings.host}:{listen_port}".replace("://0.0.0.0:", "://127.0.0.1:")
        origins = sorted({base, f"http://127.0.0.1:{listen_port}", f"http://localhost:{listen_port}"})
        seeded = _run(served, lambda database: seed_demo(database, served, origins))
        banner = "\n".join(
            [
                "",
                "easyflow demo is starting:",
                f"  demo shop      {base}/demo/shop   (the chat widget is in the corner)",
                f"  dashboard      {base}/app/login   (sign in as the owner below)",
                f"  API docs       {base}/docs",
                f"  readiness      {base}/health/ready",
                f"  tenant id      {seeded.tenant_id}",
                f"  owner sign-in  {DEMO_EMAIL} / {DEMO_PASSWORD}   (also POST {base}/api/v1/auth/login)",
                f"  API key        {seeded.api_key}",
                f'  try            curl -H "Authorization: Bearer {seeded.api_key}" {base}/api/v1/tenant',
                f'  widget tag     <script src="{base}/widget.js" data-channel="{seeded.widget_key}" async></script>',
                "",
            ]
        )
        return banner, served.model_copy(update={"demo_widget_key": seeded.widget_key})

    _serve(settings, host, port, run_worker=True, before_serving=seed_and_describe)


if __name__ == "__main__":
    app()
