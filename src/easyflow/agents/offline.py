"""The offline answerer: no LLM, yet useful. It greets, quotes the catalogue's prices when asked what
something costs and the catalogue names it (see prices.py), answers with a passage of the tenant's knowledge
quoted verbatim with its source when the passage really answers the question (see answerability.py: a
wrong answer costs a business more than an honest handoff), saying so first when that passage is in
another language than the customer's, and otherwise says honestly that it does not know, offers a person
and flags the conversation."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from easyflow.agents.answerability import best_answer
from easyflow.agents.answers import Citation, DraftSink, HandoffRequest, Reply, ReplyRequest
from easyflow.agents.phrases import phrase
from easyflow.agents.prices import MAX_ITEMS, price_answer, price_subject
from easyflow.knowledge.retrieval import Passage

Search = Callable[[str, int], Awaitable[list[Passage]]]

_GREETINGS = re.compile(
    r"^\s*(/start\b.*|привет\w*|здравствуй\w*|добр\w+ (утро|день|вечер)\w*|салам\w*|hi|hello|hey|good (morning|"
    r"afternoon|evening))[\s!.,)]*$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
MAX_QUOTE_CHARS = 900


def is_greeting(text: str) -> bool:
    return bool(_GREETINGS.match(text))


def quote(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    """The passage, cut at a sentence boundary when it is longer than `limit`."""
    text = text.strip()
    if len(text) <= limit:
        return text
    kept = ""
    for sentence in _SENTENCE_END.split(text):
        if len(kept) + len(sentence) + 1 > limit:
            break
        kept = f"{kept} {sentence}".strip()
    return kept or text[:limit].rstrip() + "…"


class OfflineAnswerer:
    def __init__(self, search: Search, *, min_score: float) -> None:
        self.search = search
        self.min_score = min_score

    async def answer(self, request: ReplyRequest, on_draft: DraftSink | None = None) -> Reply:
        # Nothing is generated word by word here: the whole reply is ready at once.
        language = request.language
        texts = [turn.text for turn in request.new_messages if turn.text.strip()]
        if request.guided_booking is not None and texts:
            guided = await request.guided_booking.step(texts)
            if guided is not None:
                return guided
        question = " ".join(text for text in texts if not is_greeting(text)).strip()
        if not question:
            greeting = request.assistant.greeting or phrase("greeting", language)
            return Reply(text=greeting)
        subject = price_subject(question) if request.catalogue is not None else None
        if request.catalogue is not None and subject is not None:
            priced = await request.catalogue.priced(subject, MAX_ITEMS)
            if priced:
                return Reply(text=price_answer(priced, language))
        passages = [p for p in await self.search(question, 3) if p.score >= self.min_score]
        judgement = best_answer(question, language, passages)
        if judgement is None:
            return Reply(
                text=phrase("dont_know", language),
                handoff=HandoffRequest("no_answer", "no confident answer in the knowledge base"),
            )
        best = judgement.passage
        source = ", ".join(part for part in (best.document, best.section) if part)
        text = f"{quote(best.text)}\n\n{phrase('source', language)}: {source}"
        if judgement.other_language is not None:
            text = f"{phrase(f'only_in_{judgement.other_language}', language)}\n\n{text}"
        return Reply(text=text, citations=[Citation(best.document, best.section, best.chunk_id)])
