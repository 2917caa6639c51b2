"""A worker's slots are split in pools: bulk work (knowledge base, chat imports) has its own, every other queue
shares the replies'."""

from __future__ import annotations

from easyflow import wiring
from easyflow.config import Settings
from easyflow.crm.imports.tasks import IMPORTS_QUEUE
from easyflow.kit.jobs import DEFAULT_QUEUE, JOBS, pool_queues
from easyflow.knowledge.tasks import KNOWLEDGE_QUEUE


def test_ingestion_has_its_own_slots_and_replies_every_other_queue(settings: Settings) -> None:
    replies, ingestion = wiring.worker_pools(settings)
    assert (replies.concurrency, ingestion.concurrency) == (
        settings.worker_concurrency,
        settings.worker_ingestion_concurrency,
    )
    reply_queues, ingestion_queues = pool_queues([replies, ingestion])
    assert ingestion_queues == [KNOWLEDGE_QUEUE, IMPORTS_QUEUE]
    assert DEFAULT_QUEUE in reply_queues and not {KNOWLEDGE_QUEUE, IMPORTS_QUEUE} & set(reply_queues)
    assert set(reply_queues) | set(ingestion_queues) == {spec.queue for spec in JOBS.values()} | {DEFAULT_QUEUE}


def test_the_command_line_overrides_each_pool(settings: Settings) -> None:
    replies, ingestion = wiring.worker_pools(settings, replies=3, ingestion=1)
    assert (replies.concurrency, ingestion.concurrency) == (3, 1)
