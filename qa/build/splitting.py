"""What a build embeds for a document: paragraph windows, sentences, keyword terms and their hashes.

The same function runs wherever a build reads its files (this process, or a Ray worker), so
that a local and a distributed build store the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..embed.embedder import Embedder
from ..text.passages import Document, Passage, split_passages, text_sha256
from ..text.sentences import sentence_spans
from ..text.sketch import signature
from ..text.terms import terms_of

#: Tokens kept for the model's own start and end markers.
_SPECIAL_TOKENS = 2
#: A window never shrinks below this many tokens, however long the context prefix.
_MIN_WINDOW = 64
#: Sentences of one paragraph embedded on their own (the first ones); a longer paragraph's
#: later sentences count only through its paragraph vector.
MAX_SENTENCES = 48
#: Characters of a sentence embedded: the model reads no further anyway.
SENTENCE_CHARS = 2000

Span = tuple[int, int]


@dataclass(frozen=True)
class PassageRow:
    """One passage as the index stores it, before any vector is computed.

    Attributes:
        passage: The cited paragraph.
        windows: Character spans of the paragraph embedded one by one (one, unless it is long).
        hashes: The vector key of each window's embedded text (:func:`vector_key`).
        terms: Its keyword terms, space-separated (with its title's, if so configured).
        sketch: Its MinHash signature (:func:`qa.text.sketch.signature`).
        sentences: Spans of its sentences embedded on their own (none for a one-sentence paragraph).
        sentence_hashes: The vector key of each of those sentences.

    """

    passage: Passage
    windows: tuple[Span, ...]
    hashes: tuple[str, ...]
    terms: str
    sketch: bytes
    sentences: tuple[Span, ...] = ()
    sentence_hashes: tuple[str, ...] = ()

    @property
    def term_count(self) -> int:
        """Keyword terms in the passage (its length for BM25)."""
        return len(self.terms.split())


@dataclass(frozen=True)
class Split:
    """Everything a build stores for one document's passages, before any vector is computed.

    Attributes:
        passages: Each passage with its windows, sentences, keyword terms and sketch.
        texts: ``(hash, text)`` of every string to embed (windows and sentences).
        windowed: Passages split into more than one window.

    """

    passages: tuple[PassageRow, ...]
    texts: tuple[tuple[str, str], ...]
    windowed: int


def context_prefix(document: Document) -> str:
    """The article context embedded before each of its paragraphs: title and lead sentence."""
    return " ".join(part for part in (document.title, document.lead) if part)


def embedding_inputs(
    document: Document, passage: Passage, embedder: Embedder, settings: Settings
) -> tuple[list[tuple[int, int]], list[str]]:
    """The windows of a passage and the exact strings to embed for each."""
    prefix = context_prefix(document) if settings.context else ""
    # A lead sentence is not repeated in front of the paragraph it comes from.
    if prefix and document.lead and document.lead in " ".join(passage.text.split()):
        prefix = document.title
    budget = embedder.max_tokens - _SPECIAL_TOKENS
    if prefix:
        budget = max(_MIN_WINDOW, budget - embedder.count_tokens(prefix) - 1)
    windows = embedder.windows(passage.text, budget, settings.window_overlap)
    texts = [f"{prefix}\n{passage.text[s:e]}" if prefix else passage.text[s:e] for s, e in windows]
    return windows, texts


def sentence_inputs(passage: Passage) -> tuple[tuple[tuple[int, int], ...], tuple[str, ...]]:
    """The sentences of a passage embedded on their own, as ``(spans, texts)``.

    A paragraph of one sentence has none: its paragraph vector already is its sentence's.
    Each text is cut at :data:`SENTENCE_CHARS` characters (the model reads no further).
    """
    spans = tuple(sentence_spans(passage.text)[:MAX_SENTENCES])
    if len(spans) < 2:
        return (), ()
    return spans, tuple(passage.text[s : min(e, s + SENTENCE_CHARS)] for s, e in spans)


def vector_key(model: str, text: str) -> str:
    """The key of a stored vector: a vector is reused only for the same input to the same model."""
    return text_sha256(f"{model}\0{text}")


def vector_model(name: str, settings: Settings) -> str:
    """What a vector key names as its model: the model, and its int8 twin where documents use it."""
    return f"{name}|int8" if settings.int8 else name


def split_document(document: Document, embedder: Embedder, settings: Settings) -> Split:
    """The passages of a changed document (numbered as :func:`~qa.text.passages.split_passages` does), what to embed."""
    title = document.title if settings.lexical_title else ""
    passages = split_passages(document)
    # Keyword terms of the whole document in one tokenizer call.
    terms = terms_of([f"{title}\n{p.text}" if title else p.text for p in passages])
    rows: list[PassageRow] = []
    texts: dict[str, str] = {}
    model = vector_model(embedder.name, settings)
    windowed = 0
    for passage, words in zip(passages, terms, strict=True):
        windows, inputs = embedding_inputs(document, passage, embedder, settings)
        hashes = tuple(vector_key(model, t) for t in inputs)
        windowed += len(windows) > 1
        texts.update(zip(hashes, inputs, strict=True))
        # Each sentence is embedded too: the best one is evidence of its own (sentence-level retrieval).
        # (A writer has settled ``None`` by the index's choice; for a new index it means yes.)
        spans, said = sentence_inputs(passage) if settings.sentences is not False else ((), ())
        sentence_hashes = tuple(vector_key(model, t) for t in said)
        texts.update(zip(sentence_hashes, said, strict=True))
        sketch = signature(passage.text)
        rows.append(PassageRow(passage, tuple(windows), hashes, " ".join(words), sketch, spans, sentence_hashes))
    return Split(tuple(rows), tuple(texts.items()), windowed)
