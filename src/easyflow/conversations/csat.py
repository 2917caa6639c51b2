"""What the inbound pipeline knows of customer satisfaction (CSAT) ratings: how long an answer to a rating
request is awaited, how a customer's message reads as a rating, and the job that thanks them.

Asking for the rating and reporting on it is the inbox's (`inbox/csat.py`); telling an answer apart from a new
question happens as the message is accepted (`easyflow_accept_message`, migration 20261204_csat), because that
is where a message into a resolved conversation would otherwise reopen it.
"""

from __future__ import annotations

import re
from datetime import timedelta

from easyflow.agents.handoff import asks_for_person

# How long after the request a rating is still taken as its answer (later, "5" is just a message).
RATING_WINDOW = timedelta(hours=24)
# How soon after the rating the customer's next message is taken as its comment.
COMMENT_WINDOW = timedelta(minutes=10)
# Thanks the customer and records the answer in the event logs (the inbox's job; named, not imported).
CSAT_ANSWERED_JOB = "inbox.csat_answered"
# What the request and the thank-you announce (`Message.notice`): sent although nobody holds the conversation.
CSAT_REQUEST_NOTICE = "csat_request"
CSAT_THANKS_NOTICE = "csat_thanks"
RATING_BUTTONS = ["1", "2", "3", "4", "5"]

_STARS = "⭐★🌟"
# Marks that decorate a digit without changing it: the emoji presentation selector and the keycap of "5️⃣".
_DECORATION = str.maketrans("", "", "\ufe0f\u20e3")
# A rating first, then at most a scale, stars or a unit, closing marks, then the end or a separator, a space and
# words that ask nothing: "5", "4/5", "3 из 5", "5 ⭐", "5 звёзд", "5!", "5 — отлично", "4, but delivery was late".
# Not "2 tickets", "5 минут", "4.5", "10", nor the ordinals and list marks of questions: «5-го числа можно?»,
# «3-х человек», «2) а ещё вопрос», «3, а можно на завтра?».
_RATING = re.compile(
    rf"""([1-5])
    (?:\s*(?:/|из|of|out\s+of)\s*5)?
    (?:\s*[{_STARS}]+)?
    (?:\s*(?:зв[её]зд[а-я]*|балл[а-я]*|stars?|points?)\b)?
    (?:\s*[)!.]+)?
    (?:\s*[-—–:,;!]+(?:\s+[^\d\s?][^?]*)?)?""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)


def rating_in(text: str) -> int | None:
    """The 1-5 rating a customer's message gives (a button's "4", "⭐⭐⭐⭐⭐", «5 — отлично»), or None."""
    cleaned = text.translate(_DECORATION).strip()
    stars = sum(cleaned.count(star) for star in _STARS)
    if stars and all(char in _STARS or char.isspace() for char in cleaned):
        return stars if stars <= 5 else None
    match = _RATING.fullmatch(cleaned)
    return int(match.group(1)) if match and not asks_for_person(cleaned) else None


def comment_window_for(text: str) -> timedelta:
    """How long after a rating this message may still be its comment: a question or a request for a person is
    never one (it is answered, as any message after a resolution is)."""
    return timedelta(0) if "?" in text or asks_for_person(text) else COMMENT_WINDOW
