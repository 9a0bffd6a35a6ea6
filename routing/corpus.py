"""The labeled routing corpus (routing/corpus/): loading it, assembling its long-context entries,
and the deterministic stratified train / held-out split. Pure: reads files, calls nothing else.

Long-context entries are a reading instruction wrapped around a document assembled from the
hand-written passages of its kind, to a length drawn per entry from its id (3,000 to 60,000 tokens
at ~4 characters a token), so the repository does not carry megabytes of text.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from schemas.vocabulary import QUERY_TYPES, QueryType

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
HELD_OUT_EVERY = 5  # every fifth entry of each label, by id hash, is held out
LONG_MIN_CHARS, LONG_MAX_CHARS = 12_000, 240_000
Split = Literal["train", "held_out", "all"]


@dataclass(frozen=True)
class Example:
    """One labeled query: the conversation (ending with the user's turn) and its label."""

    id: str
    label: QueryType
    messages: tuple[tuple[str, str], ...]  # (role, content)
    lang: str = "en"

    @property
    def text(self) -> str:
        return self.messages[-1][1]


def load_corpus(split: Split = "all", directory: Path = CORPUS_DIR) -> list[Example]:
    """Every entry (or one side of the split), in a stable order."""
    examples = [*_load_queries(directory / "queries"), *_assemble_long(directory / "long")]
    if split == "all":
        return examples
    held = held_out_ids(examples)
    return [e for e in examples if (e.id in held) == (split == "held_out")]


def held_out_ids(examples: Sequence[Example]) -> set[str]:
    """Stratified and deterministic: within each label, order by a hash of the id, hold out every
    fifth. Adding entries never moves an existing one across the split by more than its label."""
    held: set[str] = set()
    for label in QUERY_TYPES:
        ids = sorted((_digest(e.id), e.id) for e in examples if e.label == label)
        held.update(entry_id for i, (_, entry_id) in enumerate(ids) if i % HELD_OUT_EVERY == 0)
    return held


def example_from_json(line: dict[str, object]) -> Example:
    """One corpus (or eval-router) line: {"label", "text"} or {"label", "messages": [...]}."""
    label = str(line["label"])
    if label not in QUERY_TYPES:
        raise ValueError(f"unknown label {label!r}: use one of {', '.join(QUERY_TYPES)}")
    return Example(
        id=str(line.get("id", "")),
        label=label,
        messages=messages_of(line),
        lang=str(line.get("lang", "en")),
    )


def messages_of(line: dict[str, object]) -> tuple[tuple[str, str], ...]:
    """The conversation of a `{"text": ...}` or `{"messages": [...]}` object."""
    if "messages" in line:
        raw = line["messages"]
        if not isinstance(raw, list) or not raw:
            raise ValueError("messages must be a non-empty list")
        return tuple((str(m["role"]), str(m["content"])) for m in raw)
    if "text" in line:
        return (("user", str(line["text"])),)
    raise ValueError('each line needs "text" or "messages"')


def _load_queries(directory: Path) -> Iterable[Example]:
    for path in sorted(directory.glob("*.jsonl")):
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if raw.strip():
                try:
                    yield example_from_json(json.loads(raw))
                except (ValueError, KeyError) as exc:
                    raise ValueError(f"{path.name}:{number}: {exc}") from exc


def _assemble_long(directory: Path) -> Iterable[Example]:
    passages: dict[str, list[str]] = {}
    for path in sorted((directory / "passages").glob("*.txt")):
        kind = path.stem.rsplit("-", 1)[0]
        passages.setdefault(kind, []).append(path.read_text(encoding="utf-8").strip())
    instructions = directory / "instructions.jsonl"
    for raw in instructions.read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        line = json.loads(raw)
        document = _document(passages[line["kind"]], line["id"])
        text = "\n\n".join(part for part in (line["before"], document, line["after"]) if part)
        yield Example(line["id"], "long_context", (("user", text),), line.get("lang", "en"))


def _document(pieces: list[str], entry_id: str) -> str:
    """Passages of one kind, shuffled per round, until the entry's drawn length is reached."""
    rng = random.Random(_digest(entry_id))  # noqa: S311 - a reproducible draw, not a secret
    target = int(LONG_MIN_CHARS * (LONG_MAX_CHARS / LONG_MIN_CHARS) ** rng.random())
    parts: list[str] = []
    size = 0
    while size < target:
        for piece in rng.sample(pieces, len(pieces)):
            parts.append(piece)
            size += len(piece) + 2
    return "\n\n".join(parts)


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
