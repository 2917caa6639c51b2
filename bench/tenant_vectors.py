"""Tenant-filtered vector search in a shared HNSW index: how many of a tenant's exact 10 nearest chunks the
search's own nearest-neighbour query finds when the tenant is a small part of the index, with pgvector's
iterative index scans off (as before) and on (strict and relaxed order), in the same run.

Method
------
1. Start the embedded PostgreSQL (18 + pgvector 0.8) in a temporary folder and migrate it. Insert `--tenants`
   tenants (default 100) as the server's superuser, sized like a long tail: tenant i (1-based) holds a share
   proportional to 1/i of `--vectors` chunks (default 50,000), so with the defaults the largest holds 19 %
   and the smallest 0.19 % (96 chunks) of the one index every tenant's vectors of a model share.
2. Vectors (384 dimensions, stored under e5's model id so the app's queries use its partial HNSW index):
   synthetic, with the structure of text embeddings rather than uniform noise. There are 400 topics, points
   of a 24-dimensional latent space; every tenant is a business with 20 of those topics (businesses of a
   kind share topics: each topic belongs to about five tenants, large ones among them). A chunk is one of
   its tenant's topics plus latent noise, mapped into 384 dimensions by one fixed random linear map, plus a
   little isotropic noise, normalised. A question is drawn the same way from its tenant's topics, so its
   nearest chunks in the whole index mostly belong to other tenants. Loaded with binary COPY, then ANALYZE,
   then the HNSW index is built with `vector_index_sql` (pgvector's defaults m=16, ef_construction=64).
3. Measured tenants: the five smallest, the five around 1 % of the index, the 5th to 3rd largest, the 2nd
   largest and the largest. For each, `--queries` questions (default 40). Each question runs in each way,
   the ways interleaved question by question so load on the machine falls on all of them alike, each as
   the app runs it: one transaction of the app's engine (app role, row-level security), `scope_to_tenant`,
   `tune_vector_search` (hnsw.ef_search 100, and the way's iterative scan settings),
   `ChunkRepository.nearest(limit=10)`, commit. Iterative scan: "off" (the search before this change),
   "strict_order" and "relaxed_order" (each with hnsw.max_scan_tuples `--max-scan-tuples`, default
   pgvector's 20,000). Each of them twice: with the planner left to choose (what the app does: for a small
   tenant PostgreSQL usually prefers to sort the tenant's rows exactly, through the tenant_id index), and
   with the planner made to use the HNSW index (exact sorting and sequential scans disabled for the
   transaction), which is what it chooses for large tenants, and for smaller ones as the index grows.
4. Baseline: the exact top 10 of the same tenant's vectors (numpy, cosine). recall@10 = the share of those
   the query returned; also the share of questions that got fewer than 10 chunks back, and the time of the
   vector search (tune + nearest, the transaction included). EXPLAIN shows which indexes each way's plan
   uses for the group's first tenant (its custom plan: a prepared statement may run a generic one instead).

The server and its temporary folder are removed on any exit. Progress goes to stderr, results to stdout
(--json adds one JSON line). Always exits 0 unless the benchmark itself breaks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack, ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db import migrate
from easyflow.db.database import Database
from easyflow.db.embedded import EmbeddedPostgres
from easyflow.db.session import scope_to_tenant
from easyflow.knowledge.embeddings import LocalE5
from easyflow.knowledge.repository import HNSW_EF_SEARCH, HNSW_ITERATIVE_SCAN, ChunkRepository, tune_vector_search
from http_baseline import DISTURBED_OTHER_PERCENT, _positive, _postmaster_pid, run_benchmark
from retrieval import (
    OtherCpu,
    Synthetic,
    _build_indexes,
    _copy_chunks,
    _plan_indexes,
    _progress,
    _quantiles,
    _settings,
)

SEED = 20261126
K = 10
TOPICS = 400
TOPICS_PER_TENANT = 20
LATENT = 24
TOPIC_SPREAD = 0.45  # latent noise of a chunk around its topic (topic centres have unit variance)
SURFACE_NOISE = 0.01  # per dimension, after the linear map to 384 dimensions
WARMUP_QUERIES = 5
# Makes the planner use the HNSW index: sorting the tenant's rows exactly is then disabled, as is a scan of
# the whole table (PostgreSQL 18 picks the plan with the fewest disabled steps).
FORCE_INDEX = {"enable_sort": "off", "enable_seqscan": "off"}

Matrix = npt.NDArray[np.float32]


@dataclass
class Tenant:
    id: uuid.UUID
    rank: int  # 1 = the largest
    topics: npt.NDArray[np.intp]
    rows: npt.NDArray[np.intp]  # its chunks' rows in the vector matrix
    ids: list[uuid.UUID]  # its chunks' ids, in the same order


@dataclass(frozen=True)
class Way:
    """How a question is searched: the settings of its transaction, or (`app`) `tune_vector_search`'s."""

    name: str
    settings: tuple[tuple[str, str], ...] = ()
    app: bool = False


def _ways(max_scan_tuples: int) -> tuple[Way, ...]:
    before = (("hnsw.ef_search", str(HNSW_EF_SEARCH)),)  # what the search set before this change

    def iterative(mode: str) -> tuple[tuple[str, str], ...]:
        return (*before, ("hnsw.iterative_scan", mode), ("hnsw.max_scan_tuples", str(max_scan_tuples)))

    forced = tuple(FORCE_INDEX.items())
    return (
        Way("before: no iterative scan", before),
        Way("strict_order", iterative("strict_order")),
        Way("relaxed_order", iterative("relaxed_order")),
        Way(f"after: {HNSW_ITERATIVE_SCAN}, custom plans", app=True),
        Way("before, index forced", (*before, *forced)),
        Way("relaxed_order, index forced", (*iterative("relaxed_order"), *forced)),
    )


@dataclass
class WayResult:
    recall_at_10: float
    short_share: float  # questions that got fewer than K chunks back
    latency: dict[str, float]
    plan: str  # the indexes of the plan made for the group's first tenant


@dataclass
class Group:
    name: str
    tenants: int
    chunks_each: str
    share_of_index: str
    ways: dict[str, WayResult]


@dataclass
class Findings:
    vectors: int
    tenants: int
    queries_per_tenant: int
    max_scan_tuples: int
    index_seconds: float
    groups: list[Group]
    other_cpu_percent: float


def _sizes(total: int, tenants: int) -> list[int]:
    weights = [1 / rank for rank in range(1, tenants + 1)]
    scale = total / sum(weights)
    return [max(K, round(weight * scale)) for weight in weights]


def _generate(args: argparse.Namespace) -> tuple[list[Tenant], Matrix, Matrix, Matrix]:
    """Tenants, their chunk vectors, and what is needed to draw questions: topic centres, the map, noise."""
    rng = np.random.default_rng(SEED)
    centres = rng.standard_normal((TOPICS, LATENT)).astype(np.float32)
    mapping = (rng.standard_normal((LATENT, LocalE5.dimensions)) / np.sqrt(LATENT)).astype(np.float32)
    sizes = _sizes(args.vectors, args.tenants)
    tenants: list[Tenant] = []
    latent: list[Matrix] = []
    start = 0
    for rank, size in enumerate(sizes, start=1):
        topics = rng.choice(TOPICS, TOPICS_PER_TENANT, replace=False)
        picks = topics[rng.integers(0, TOPICS_PER_TENANT, size)]
        latent.append(centres[picks] + TOPIC_SPREAD * rng.standard_normal((size, LATENT)).astype(np.float32))
        tenants.append(
            Tenant(uuid.uuid4(), rank, topics, np.arange(start, start + size), [uuid.uuid4() for _ in range(size)])
        )
        start += size
    vectors = _surface(np.concatenate(latent), mapping, rng)
    return tenants, vectors, centres, mapping


def _surface(latent: Matrix, mapping: Matrix, rng: np.random.Generator) -> Matrix:
    points = latent @ mapping
    points += SURFACE_NOISE * rng.standard_normal(points.shape).astype(np.float32)
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def _questions(tenant: Tenant, count: int, centres: Matrix, mapping: Matrix) -> Matrix:
    rng = np.random.default_rng(SEED + tenant.rank)
    picks = tenant.topics[rng.integers(0, TOPICS_PER_TENANT, count)]
    latent = centres[picks] + TOPIC_SPREAD * rng.standard_normal((count, LATENT)).astype(np.float32)
    return _surface(latent, mapping, rng)


def _load(url: str, tenants: list[Tenant], vectors: Matrix) -> None:
    with psycopg.connect(url) as connection:
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO tenants (id, name, default_language, timezone) VALUES (%s, %s, 'ru', 'UTC')",
                [(tenant.id, f"Bench tenant {tenant.rank}") for tenant in tenants],
            )
        for tenant in tenants:
            rows = tenant.rows
            synthetic = Synthetic(
                ids=tenant.ids,
                sections=[f"Раздел {tenant.rank}" for _ in rows],
                texts=[f"Фрагмент {int(row)}" for row in rows],  # words no question has
                vectors=vectors[rows],
            )
            _copy_chunks(connection, tenant.id, synthetic)
        connection.commit()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("ANALYZE tenants, documents, chunks")


def _measured(tenants: list[Tenant]) -> list[tuple[str, list[Tenant]]]:
    total = sum(len(tenant.rows) for tenant in tenants)
    by_share = sorted(tenants, key=lambda tenant: abs(len(tenant.rows) / total - 0.01))
    return [
        ("the 5 smallest", tenants[-5:]),
        ("5 around 1 %", sorted(by_share[:5], key=lambda tenant: tenant.rank)),
        ("5th-3rd largest", tenants[2:5]),
        ("2nd largest", tenants[1:2]),
        ("the largest", tenants[:1]),
    ]


def _exact(vectors: Matrix, tenant: Tenant, questions: Matrix) -> list[set[int]]:
    own = vectors[tenant.rows]
    scores = questions @ own.T
    best = np.argsort(-scores, axis=1, kind="stable")[:, :K]
    return [{int(tenant.rows[index]) for index in row} for row in best]


async def _prepare(session: AsyncSession, way: Way) -> None:
    if way.app:
        await tune_vector_search(session, HNSW_ITERATIVE_SCAN)
    else:
        await session.execute(
            text(
                "SELECT set_config(name, value, true) "
                "FROM unnest(CAST(:names AS text[]), CAST(:values AS text[])) AS s(name, value)"
            ),
            {"names": [name for name, _ in way.settings], "values": [value for _, value in way.settings]},
        )


async def _search(database: Database, tenant: Tenant, question: list[float], way: Way) -> tuple[list[uuid.UUID], float]:
    started = time.perf_counter()
    async with database.session() as session, session.begin():
        await scope_to_tenant(session, tenant.id)
        await _prepare(session, way)
        hits = await ChunkRepository(session, tenant.id).nearest(question, LocalE5.model_id, LocalE5.dimensions, K)
    return [hit.id for hit in hits], 1000 * (time.perf_counter() - started)


async def _explain(database: Database, tenant: Tenant, question: list[float], way: Way) -> str:
    """The indexes of the search's nearest-neighbour statement as planned for this tenant. (A prepared
    statement may later run a generic plan instead, made for any tenant: the recall of the ways without
    custom plans tells whether it walked the HNSW index.)"""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if "<=>" in statement:
            captured.append((statement, parameters))

    event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
    try:
        await _search(database, tenant, question, way)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", capture)
    statement, parameters = captured[0]
    async with database.session() as session, session.begin():
        await scope_to_tenant(session, tenant.id)
        await _prepare(session, way)
        await session.execute(text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)"))
        connection = await session.connection()
        rows = await connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        return _plan_indexes("\n".join(str(row[0]) for row in rows))


async def _measure(
    url: str, workdir: Path, args: argparse.Namespace, tenants: list[Tenant], vectors: Matrix, draw: Any, pid: int
) -> tuple[list[Group], float]:
    groups = _measured(tenants)
    ways = _ways(args.max_scan_tuples)
    total = len(vectors)
    async with AsyncExitStack() as stack:
        database = await Database.open(_settings(url, workdir / "data", "none"), pool_size=2)
        stack.push_async_callback(database.close)
        rows = {chunk: int(row) for tenant in tenants for chunk, row in zip(tenant.ids, tenant.rows, strict=True)}
        meter = OtherCpu((pid,))
        results: list[Group] = []
        for name, members in groups:
            _progress(f"searching: {name} ...")
            recalls: dict[Way, list[float]] = {way: [] for way in ways}
            shorts: dict[Way, list[bool]] = {way: [] for way in ways}
            latencies: dict[Way, list[float]] = {way: [] for way in ways}
            for tenant in members:
                questions = draw(tenant, WARMUP_QUERIES + args.queries)
                exact = _exact(vectors, tenant, questions[WARMUP_QUERIES:])
                for number, question in enumerate(questions):
                    for way in ways:
                        found, ms = await _search(database, tenant, question.tolist(), way)
                        if number < WARMUP_QUERIES:
                            continue
                        wanted = exact[number - WARMUP_QUERIES]
                        recalls[way].append(len({rows[i] for i in found} & wanted) / K)
                        shorts[way].append(len(found) < K)
                        latencies[way].append(ms)
            first = members[0]
            plans = {way: await _explain(database, first, draw(first, 1)[0].tolist(), way) for way in ways}
            sizes = sorted(len(tenant.rows) for tenant in members)
            shares = [size / total for size in sizes]
            results.append(
                Group(
                    name=name,
                    tenants=len(members),
                    chunks_each=f"{sizes[0]}" if sizes[0] == sizes[-1] else f"{sizes[0]}-{sizes[-1]}",
                    share_of_index=f"{shares[0]:.2%}" if sizes[0] == sizes[-1] else f"{shares[0]:.2%}-{shares[-1]:.2%}",
                    ways={
                        way.name: WayResult(
                            statistics.fmean(recalls[way]),
                            statistics.fmean(shorts[way]),
                            _quantiles(latencies[way]),
                            plans[way],
                        )
                        for way in ways
                    },
                )
            )
        other = meter.percent()
    return results, other


def run(args: argparse.Namespace) -> Findings:
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="easyflow-bench-")))
        _progress(f"starting the embedded PostgreSQL in {workdir} ...")
        embedded = EmbeddedPostgres(workdir)
        stack.callback(embedded.stop)
        url = embedded.start()
        migrate.upgrade(url)
        _progress(f"generating {args.vectors:,} vectors for {args.tenants} tenants ...")
        tenants, vectors, centres, mapping = _generate(args)
        _progress("loading them with COPY ...")
        _load(url, tenants, vectors)
        _progress("building the HNSW index ...")
        index_seconds, _notices, _memory = _build_indexes(url, args.maintenance_work_mem)

        def draw(tenant: Tenant, count: int) -> Matrix:
            return _questions(tenant, count, centres, mapping)

        groups, other = asyncio.run(
            _measure(url, workdir, args, tenants, vectors, draw, _postmaster_pid(embedded.pgdata))
        )
        return Findings(
            vectors=len(vectors),
            tenants=len(tenants),
            queries_per_tenant=args.queries,
            max_scan_tuples=args.max_scan_tuples,
            index_seconds=index_seconds,
            groups=groups,
            other_cpu_percent=other,
        )


def report(findings: Findings, args: argparse.Namespace) -> None:
    print(
        f"Tenant-filtered vector search: {findings.vectors:,} chunks of {findings.tenants} tenants in one HNSW index "
        f"(built in {findings.index_seconds:.1f} s), {findings.queries_per_tenant} questions per measured tenant, "
        f"top {K}, hnsw.ef_search {HNSW_EF_SEARCH}; iterative modes with hnsw.max_scan_tuples "
        f"{findings.max_scan_tuples:,}. Baseline: the tenant's exact top {K} (numpy), same questions."
    )
    print(
        f"{'tenants':<16}{'chunks':>11}{'of index':>13}  {'way':<35}{'recall@10':>10}{'short':>7}"
        f"{'p50 ms':>8}{'p95 ms':>8}  indexes of the tenant's plan"
    )
    for group in findings.groups:
        for number, (way, result) in enumerate(group.ways.items()):
            head = f"{group.name:<16}{group.chunks_each:>11}{group.share_of_index:>13}" if number == 0 else " " * 40
            print(
                f"{head}  {way:<35}{result.recall_at_10:>10.3f}{result.short_share:>7.0%}"
                f"{result.latency['p50_ms']:>8.2f}{result.latency['p95_ms']:>8.2f}  {result.plan}"
            )
    print(
        "short = share of questions that got fewer than 10 chunks back; custom plans: plan_cache_mode "
        "force_custom_plan (otherwise a prepared statement may switch to the generic plan after five runs); 'index "
        "forced': the planner made to use the HNSW index (as it chooses to where sorting the tenant's rows would "
        "cost more); latency = the transaction"
    )
    if findings.other_cpu_percent >= DISTURBED_OTHER_PERCENT:
        print(
            f"note: other work on the machine used {findings.other_cpu_percent:.0f}% of a core during the searches: "
            "latencies are disturbed (recall is not)"
        )
    if args.json:
        print(json.dumps({"settings": vars(args), **asdict(findings)}, default=str))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "recall@10 of a tenant-filtered vector search when many tenants share one HNSW index, with pgvector's "
            "iterative index scans off and on, against each tenant's exact nearest neighbours; see the module "
            "docstring for the method."
        ),
        epilog="Always exits 0 unless the benchmark itself breaks.",
    )
    parser.add_argument("--vectors", type=_positive(int), default=50_000, help="chunks in all (default: 50000)")
    parser.add_argument("--tenants", type=_positive(int), default=100, help="tenants (default: 100)")
    parser.add_argument(
        "--queries", type=_positive(int), default=40, help="questions per measured tenant (default: 40)"
    )
    parser.add_argument(
        "--max-scan-tuples",
        type=_positive(int),
        default=20_000,
        help="hnsw.max_scan_tuples of the iterative modes (default: 20000, pgvector's default)",
    )
    parser.add_argument(
        "--maintenance-work-mem", default="1GB", help="for the session that builds the index (default: 1GB)"
    )
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line at the end")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    return run_benchmark(lambda: run(args), lambda findings: report(findings, args))


if __name__ == "__main__":
    sys.exit(main())
