"""Split sections into chunks of whole sentences that carry their heading path, so an answer can cite
"file, section". Sentences come from `razdel` (Russian-aware sentence segmentation)."""

from __future__ import annotations

from dataclasses import dataclass

from razdel import sentenize

from easyflow.knowledge.extract import Section

TARGET_CHARS = 900
MAX_CHARS = 1500


@dataclass(frozen=True)
class ChunkText:
    section: str
    text: str


def chunk_sections(sections: list[Section], *, target: int = TARGET_CHARS) -> list[ChunkText]:
    chunks: list[ChunkText] = []
    for section in sections:
        current: list[str] = []
        size = 0
        for paragraph in section.paragraphs:
            for sentence in _sentences(paragraph):
                if current and size + len(sentence) + 1 > target:
                    chunks.append(ChunkText(section.title, " ".join(current)))
                    current, size = [], 0
                current.append(sentence)
                size += len(sentence) + 1
        if current:
            chunks.append(ChunkText(section.title, " ".join(current)))
    return chunks


def _sentences(paragraph: str) -> list[str]:
    """Sentences of a paragraph; one longer than MAX_CHARS (a table row, a list) is cut at spaces."""
    result: list[str] = []
    for sentence in (s.text for s in sentenize(paragraph)):
        while len(sentence) > MAX_CHARS:
            cut = sentence.rfind(" ", 0, MAX_CHARS)
            cut = cut if cut > 0 else MAX_CHARS
            result.append(sentence[:cut])
            sentence = sentence[cut:].strip()
        if sentence:
            result.append(sentence)
    return result
