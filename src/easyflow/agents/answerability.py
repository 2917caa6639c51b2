"""Whether a passage the search found really answers the customer's question, for the offline answerer.

Retrieval ranks the closest passages; the closest is not always an answer. «Сколько стоит кружка?» finds
the delivery price because two of its three words are there: the one that matters, «кружка», is not. So
the question's *content* words are weighed (function words and the wording of asking — «сколько», «можно»,
"how much" — count little, the thing asked about counts fully), matched against the passage's words by a
light prefix stemmer (Russian and English inflect at the end: «пледы» ~ «плед», «офиса» ~ «офис»), and a
passage answers only when it holds most of that weight and every salient word of the question.

A passage in another language than the question's shares no words with it, so there only the retriever's
score (with embeddings, a cross-lingual similarity) can tell, and it must be high.

The thresholds were chosen on the "tuning" questions of bench/answers.py (docs/benchmarks.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from easyflow.agents.language import detect_language
from easyflow.knowledge.retrieval import Passage

_WORD = re.compile(r"[^\W\d_]+")


def _listed(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that carry no subject: pronouns, prepositions, particles, and how people ask.
_STOP = _listed(
    """
    а и или но да нет не ни ли же бы то ну вот ещё еще уже только просто очень так как какой какая какие каком
    какую каких что чтобы кто где куда откуда когда зачем почему сколько скока скоко скок почем почём чем чего
    кого кому ком это этот эта эти тот та те там тут здесь сейчас потом тоже также всё все всех весь вся
    я мы вы ты он она оно они мне меня мной нам нас вам вас вами тебе тебя ему его ей её ее им их мой моя моё
    мои наш наша наше наши ваш ваша ваше ваши вашего вашей вашем вашу своей свой своя свои себе себя
    в во на с со к ко по о об обо от до из за для при без про через над под у между около после перед
    можно нужно надо нельзя есть был была было были будет будут быть буду хочу хотел хотела хотим
    подскажите скажите расскажите пожалуйста привет здравствуйте спасибо добрый день вечер утро
    у вас ли если раз сам сама сами
    a an the and or but not no yes is are am was were be been do does did done have has had can could will
    would should may might must shall i me my we our you your he she it its they them their this that these
    those there here what which who whom whose when where why how much many in on at to of for from by with
    about into over under after before up out as so if than then too also just please hi hello thanks any
    some get got
    """
)
# The wording of common questions in any business: they say what kind of answer is wanted, not about what.
_GENERIC = _listed(
    """
    стоит стоить стоимость цена цены ценой прайс платно платная платный бесплатно бесплатная работаете
    работает работаю работать время сделать делаете делать принимаете принимать купить оплатить заплатить
    взять получить дней долго быстро сегодня завтра
    cost costs price prices pay free open work works time take buy get long day days
    """
)
GENERIC_WEIGHT = 0.3
MIN_PREFIX = 4  # a shorter shared beginning is no evidence («сто-ит» / «сто-имость»)
ENDING = 3  # letters an inflection may change at the end of a word
# Share of the question's content weight the passage must hold, in the question's language; a third is
# enough when the retriever is sure of the passage on its own (embeddings, or most of the words found).
MIN_COVERAGE = 0.8
MIN_COVERAGE_WHEN_SURE = 0.34
SURE_SCORE = 0.8
# The retriever's score a passage in another language needs (it shares no words with the question).
MIN_SCORE_OTHER_LANGUAGE = 0.7


@dataclass(frozen=True)
class Judgement:
    passage: Passage
    coverage: float  # 0..1: weighted share of the question's content words the passage holds
    other_language: str | None  # the passage's language when it is not the question's


def words(text: str) -> list[str]:
    return [word.replace("ё", "е") for word in _WORD.findall(text.lower())]


def content_words(question: str) -> dict[str, float]:
    """The question's words that say what it is about, each with its weight."""
    return {
        word: GENERIC_WEIGHT if word in _GENERIC else 1.0
        for word in words(question)
        if word not in _STOP and len(word) > 1
    }


def same_word(a: str, b: str) -> bool:
    """Whether two words are probably forms of one: equal, or sharing all but an ending's letters."""
    if a == b:
        return True
    shorter = min(len(a), len(b))
    if shorter < MIN_PREFIX:
        return False
    shared = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        shared += 1
    # One word ends where the other goes on («город», «городской»), or they differ only in the ending.
    return shared >= MIN_PREFIX and (shared == shorter or shared >= max(len(a), len(b)) - ENDING)


def coverage(question: dict[str, float], passage: Passage) -> float:
    if not question:
        return 0.0
    vocabulary = set(words(f"{passage.section} {passage.text}"))
    held = sum(weight for word, weight in question.items() if any(same_word(word, other) for other in vocabulary))
    return held / sum(question.values())


def judge(question: str, language: str, passage: Passage) -> Judgement:
    passage_language = detect_language(passage.text) or language
    other = passage_language if passage_language != language else None
    return Judgement(passage, coverage(content_words(question), passage), other)


def answers(judgement: Judgement) -> bool:
    if judgement.other_language is not None:
        return judgement.passage.score >= MIN_SCORE_OTHER_LANGUAGE
    return judgement.coverage >= MIN_COVERAGE or (
        judgement.coverage >= MIN_COVERAGE_WHEN_SURE and judgement.passage.score >= SURE_SCORE
    )


def best_answer(question: str, language: str, passages: list[Passage]) -> Judgement | None:
    """The passage that answers the question, preferring one in the customer's language and then the one
    holding most of the question; None when none does."""
    judged = [judge(question, language, passage) for passage in passages]
    answering = [j for j in judged if answers(j)]
    if not answering:
        return None
    return max(answering, key=lambda j: (j.other_language is None, j.coverage, j.passage.score))
