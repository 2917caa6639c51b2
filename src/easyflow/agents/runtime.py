"""Choose an answerer for the assistant and run it within the time limit; if the model fails or is too
slow, the customer still gets a polite reply and the conversation is flagged for a human."""

from __future__ import annotations

import asyncio

import structlog

from easyflow.agents.answers import Answerer, DraftSink, HandoffRequest, Reply, ReplyRequest
from easyflow.agents.llm import LlmAnswerer
from easyflow.agents.offline import OfflineAnswerer, Search
from easyflow.agents.phrases import phrase
from easyflow.kit.errors import Unprocessable
from easyflow.models.agents import ModelProvider

log = structlog.get_logger(__name__)


class AgentRuntime:
    def __init__(
        self, search: Search, *, timeout_seconds: float, min_offline_score: float, allow_private_urls: bool
    ) -> None:
        self.search = search
        self.timeout_seconds = timeout_seconds
        self.min_offline_score = min_offline_score
        self.allow_private_urls = allow_private_urls

    def answerer_for(self, request: ReplyRequest) -> Answerer:
        if request.assistant.over_budget and request.assistant.provider != ModelProvider.none:
            log.warning("agent.over_budget", assistant_id=str(request.assistant.id))
        if request.assistant.provider == ModelProvider.none or request.assistant.over_budget:
            return OfflineAnswerer(self.search, min_score=self.min_offline_score)
        return LlmAnswerer(self.search, allow_private_urls=self.allow_private_urls)

    async def answer(self, request: ReplyRequest, on_draft: DraftSink | None = None) -> Reply:
        """The reply; with `on_draft`, its text is also handed over as the model writes it."""
        answerer = self.answerer_for(request)
        offline = isinstance(answerer, OfflineAnswerer)
        try:
            return await asyncio.wait_for(answerer.answer(request, on_draft), timeout=self.timeout_seconds)
        except TimeoutError:
            log.warning("agent.timeout", conversation_id=str(request.conversation_id), seconds=self.timeout_seconds)
            return Reply(
                text=phrase("timeout", request.language),
                handoff=HandoffRequest("failure", f"the assistant did not answer within {self.timeout_seconds:g} s"),
            )
        except Unprocessable as error:  # the model's address was refused: say why where the tenant sees it
            log.warning("agent.model_refused", error=error.detail)
            return Reply(
                text=phrase("unavailable", request.language),
                handoff=HandoffRequest("failure", f"the language model cannot be called: {error.detail}"),
            )
        except Exception as error:
            if offline:
                raise  # a database problem: let the job retry
            log.warning("agent.model_failed", error_type=type(error).__name__, error=str(error)[:300])
            return Reply(
                text=phrase("unavailable", request.language),
                handoff=HandoffRequest("failure", f"the language model failed: {type(error).__name__}"),
            )
