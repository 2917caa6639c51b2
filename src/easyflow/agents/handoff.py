"""When an assistant hands a conversation to a person: the rules an owner sets per assistant, and recognising
a customer who asks for one (in Russian or English, typed or by the quick-reply button)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from easyflow.agents.phrases import PHRASES
from easyflow.kit.schemas import StrictInput
from easyflow.models.conversations import ActorKind

Keyword = Annotated[str, Field(min_length=2, max_length=100)]


class HandoffRules(StrictInput):
    """Each trigger can be switched off; stored as the assistant's `handoff_rules` ({} means these defaults)."""

    on_request: bool = Field(default=True, description="The customer asks for a person.")
    on_no_answer: bool = Field(
        default=True, description="The offline answerer finds no confident answer in the knowledge base."
    )
    on_model_request: bool = Field(default=True, description="The model calls its `handoff` tool.")
    keywords: list[Keyword] = Field(
        default_factory=list, max_length=50, description="Words that hand over at once, e.g. «жалоба», «возврат»."
    )
    after_unanswered_turns: int = Field(
        default=3, ge=0, le=20, description="Hand over after this many replies in a row without an answer (0: off)."
    )
    answers_while_pending: bool = Field(
        default=False,
        description="The assistant keeps answering while the conversation waits for a person, saying so.",
    )
    offer_button: bool = Field(
        default=True, description="Offer a «Позвать оператора» / “Talk to a person” quick reply with answers."
    )


def rules_of(stored: dict[str, Any]) -> HandoffRules:
    return HandoffRules.model_validate(stored)


@dataclass(frozen=True)
class Handoff:
    """A decision to hand the conversation over: whose, and why (shown in the conversation's event log), and to
    which team, when one was named."""

    actor: ActorKind
    reason: str
    team: str | None = None


_PEOPLE_RU = r"(оператор\w*|менеджер\w*|человек\w*|сотрудник\w*|администратор\w*|консультант\w*|специалист\w*)"
_ASKING_RU = (
    r"(позов\w*|позв\w*|соедин\w*|переключ\w*|свяж\w*|хочу|хотел\w*|нуж(ен|на|ны|но)|дайте|можно|"
    r"поговор\w*|пообщат\w*|говорить|общаться|напиш\w*|пригласи\w*)"
)
_PEOPLE_EN = r"(person|human|agent|operator|someone|somebody|manager|representative|staff|people)"
_ASKING_EN = r"(talk|speak|chat|connect|transfer|put me through|get me|want|need|can i have|let me)"
_REQUESTS = [
    re.compile(rf"\b{_ASKING_RU}\b[^.?!]{{0,30}}\b{_PEOPLE_RU}", re.IGNORECASE),
    re.compile(rf"^\W*(живо\w* )?{_PEOPLE_RU}\W*(пожалуйста)?\W*$", re.IGNORECASE),
    re.compile(r"\bживо\w* (человек\w*|оператор\w*|люд\w*)", re.IGNORECASE),
    re.compile(
        rf"\b{_ASKING_EN}\b[^.?!]{{0,30}}\b(a |an |the |to )?(real |live |human )?{_PEOPLE_EN}\b", re.IGNORECASE
    ),
    re.compile(r"^\W*(a )?(real |live )?(human|agent|operator|person|representative)\W*(please)?\W*$", re.IGNORECASE),
    re.compile(r"\b(real|live) (person|human|agent)\b", re.IGNORECASE),
]
_BUTTONS = {text.casefold() for text in PHRASES["human_button"].values()}


def asks_for_person(text: str) -> bool:
    """Whether the customer's message asks to talk to a person rather than the assistant."""
    stripped = text.strip()
    if stripped.casefold() in _BUTTONS:
        return True
    return any(pattern.search(stripped) for pattern in _REQUESTS)


def keyword_in(text: str, keywords: list[str]) -> str | None:
    """The first of the owner's keywords found in the text (whole words at its start, any case), if any."""
    for keyword in keywords:
        if re.search(rf"(?<!\w){re.escape(keyword)}", text, re.IGNORECASE):
            return keyword
    return None


def handoff_before_answering(texts: list[str], rules: HandoffRules) -> Handoff | None:
    """A handoff the customer's new messages call for before any answer is attempted."""
    joined = "\n".join(texts)
    if rules.on_request and any(asks_for_person(text) for text in texts):
        return Handoff(ActorKind.customer, "the customer asked for a person")
    keyword = keyword_in(joined, rules.keywords)
    if keyword is not None:
        return Handoff(ActorKind.rule, f"the customer wrote «{keyword}»")
    return None
