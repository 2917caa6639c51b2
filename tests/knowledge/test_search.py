"""Full-text search beyond exact words: misspelt and spoken forms, rare words weighing more, candidates
gathered strictest level first, and the per-tenant vocabulary behind them (kept by triggers, per tenant)."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.session import scope_to_tenant
from easyflow.knowledge.query import FullTextQuery, Term, colloquial, corrections, edit_distance, transliterate
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture
from tests.knowledge import files
from tests.knowledge.knowledge_api import DOCS, indexed, search


async def test_a_misspelt_word_finds_its_passage_on_full_text_alone(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    assert runtime.embedder is None  # full text only
    await indexed(client, tenant_a, runtime, "прайс.md", files.MARKDOWN.encode())
    # «тонирвание» (a letter missing) stems to «тонирван», which no chunk contains: only the correction to
    # the document's «тонирован» finds it; a stem of four letters is not corrected by substitution.
    found = (await search(client, tenant_a, "тонирвание"))["items"]
    assert found and found[0]["section"] == "Салон «Лотос» › Окрашивание"
    assert found[0]["score"] == 1.0  # the corrected word counts as the question's word
    assert (await search(client, tenant_a, "брак"))["items"] == []


async def test_corrections_come_from_the_tenants_own_words_only(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    await indexed(client, tenant_b, runtime, "прайс.md", files.MARKDOWN.encode())
    assert (await search(client, tenant_a, "тонирвание"))["items"] == []
    assert (await search(client, tenant_b, "тонирвание"))["items"]


async def test_the_vocabulary_follows_the_chunks_per_tenant(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime, session: AsyncSession
) -> None:
    async def vocabulary(tenant: TenantFixture) -> dict[str, int]:
        await scope_to_tenant(session, tenant.id)
        rows = await session.execute(text("SELECT lexeme, chunks FROM knowledge_terms"))
        return {lexeme: chunks for lexeme, chunks in rows}

    document = await indexed(client, tenant_a, runtime, "прайс.md", files.MARKDOWN.encode())
    terms = await vocabulary(tenant_a)
    assert terms[""] == document["chunk_count"] == 3  # the number of chunks
    assert terms["тонирован"] == 1 and terms["сом"] == 2
    assert await vocabulary(tenant_b) == {}  # row security: another tenant sees none of it
    await indexed(client, tenant_a, runtime, "ещё.md", files.MARKDOWN.encode())
    assert (await vocabulary(tenant_a))["тонирован"] == 2
    assert (await client.delete(f"{DOCS}/{document['id']}", headers=tenant_a.headers)).status_code == 204
    assert (await vocabulary(tenant_a))["тонирован"] == 1
    await session.execute(text("DELETE FROM documents"))
    assert await vocabulary(tenant_a) == {}


async def test_rare_words_outweigh_common_ones(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await indexed(client, tenant_a, runtime, "прайс.md", files.MARKDOWN.encode())
    # «сом» and «часа» are each in two of the three chunks, «тонирование» in one: the chunk with the rare
    # word and «сом» comes before the one with both common words.
    found = (await search(client, tenant_a, "тонирование сом часа"))["items"]
    assert found[0]["section"] == "Салон «Лотос» › Окрашивание"


def _terms(*names: str) -> list[Term]:
    return [Term((name,), chunks, 1.0 / chunks) for chunks, name in enumerate(names, start=1)]


def test_levels_go_from_all_words_to_any_each_excluding_the_stricter() -> None:
    query = FullTextQuery(_terms("a", "b", "c"), [])
    assert query.levels() == [
        "'a' & 'b' & 'c'",
        "('a' & 'b') & !('a' & 'b' & 'c')",
        "('a' | 'b' | 'c') & !('a' & 'b')",
    ]
    assert FullTextQuery(_terms("a"), []).levels() == ["'a'"]
    alternatives = FullTextQuery([Term(("x", "y"), 1, 1.0), *_terms("z")], [])
    assert alternatives.levels()[0] == "('x' | 'y') & 'z'"


def test_levels_use_only_the_rarest_words_but_any_word_matches_last() -> None:
    query = FullTextQuery(_terms(*"abcdefghij"), [])
    levels = query.levels()
    assert levels[0] == " & ".join(f"'{name}'" for name in "abcdef")
    assert len(levels) == 6  # six words down to two, then any
    assert levels[-1].startswith("(" + " | ".join(f"'{name}'" for name in "abcdefghij") + ")")


def test_quotes_in_lexemes_cannot_break_the_tsquery() -> None:
    assert Term(("it's", "a\\b"), 1, 1.0).tsquery() == "('it''s' | 'a\\\\b')"


def test_corrections() -> None:
    vocabulary = {"гель-лак": 3, "тонирован": 2, "брак": 5, "удален": 4, "удал": 0, "вернут": 1}
    assert corrections("гельлак", vocabulary) == ["гель-лак"]  # hyphens do not matter
    assert corrections("тонирван", vocabulary) == ["тонирован"]  # long stems: up to two edits
    assert corrections("вернет", vocabulary) == ["вернут"]  # six letters: one edit
    assert corrections("брат", vocabulary) == []  # short stems: no substitutions
    assert corrections("удал", vocabulary) == ["удален"]  # a stem cut short by another ending
    assert corrections("абв", vocabulary) == []
    assert edit_distance("abcd", "abdc", 1) == 1  # an adjacent swap is one edit
    assert edit_distance("abcdef", "uvwxyz", 2) == 3


def test_spoken_forms_and_transliteration() -> None:
    assert colloquial("Скока") == "сколько"
    assert colloquial("днюху") == "день рождения"
    assert colloquial("стиралкой,") == "стиральная машина"
    assert colloquial("компенсируете") is None  # a longer word that merely starts like «комп»
    assert colloquial("др") == "день рождения" and colloquial("дрель") is None
    assert transliterate("Каспи") == "kaspi"
    assert transliterate("Kaspi") is None
