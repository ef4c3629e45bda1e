"""Follow-up questions without a language model: carrying the previous turn's subject over.

"and in Isfahan?" after "What aid do Mosul NGOs send?" means "what aid do Isfahan NGOs
send?". A question that refers back (starts with "and", "what about"…, or leans on "that",
"it", "else"… with few words of its own) is searched together with the previous search's
subject terms: its content words, less the question words, less the names it replaces.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..config import QUESTION_CHARS
from ..text.sentences import sentence_spans
from ..text.words import WRITTEN_WORD, written_words

#: Openings that make a question continue the previous one.
_CONTINUES = re.compile(r"^\s*(and|but|also|or|so|then|what about|how about|what of)\b", re.IGNORECASE)

#: Words that point back to something said before.
_REFERS = frozenset(
    [
        "that",
        "this",
        "it",
        "its",
        "they",
        "them",
        "their",
        "those",
        "these",
        "he",
        "she",
        "him",
        "his",
        "her",
        "there",
        "same",
        "else",
        "other",
        "others",
    ]
)

#: Words that carry no subject: question words, auxiliaries, pronouns, fillers.
_FUNCTION = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "shall",
        "should",
        "so",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "about",
        "also",
        "else",
        "other",
        "others",
        "same",
        "he",
        "she",
        "him",
        "his",
        "her",
        "what's",
        "who's",
        "tell",
        "say",
        "said",
        "says",
        "much",
        "many",
        "more",
        "most",
        "any",
        "some",
        "one",
    ]
)

#: Most characters carried over from the previous question (a chain of follow-ups stays short).
CARRIED_MAX = 300

#: Longest base a conversation keeps (as the longest question accepted by default).
BASE_MAX = QUESTION_CHARS

#: What may stand before a sentence's first word.
_OPENERS = "\"'“‘([«"

#: A question with at most this many words of its own that refers back is a follow-up.
_OWN_WORDS = 3


def content_words(text: str) -> list[str]:
    """Words of ``text`` that carry subject (no question or function words), in order, once each."""
    seen: dict[str, str] = {}
    for word in written_words(text):
        folded = word.lower()
        if folded not in _FUNCTION and not folded.isdigit() and folded not in seen:
            seen[folded] = word
    return list(seen.values())


def _is_name(word: str) -> bool:
    """A capitalised word, taken as a name (place, person); acronyms such as "NGOs" are not."""
    return word[:1].isupper() and not word[1:2].isupper()


def is_follow_up(question: str) -> bool:
    """Whether ``question`` leans on the previous turn for its subject."""
    own = content_words(question)
    folded = {w.lower() for w in written_words(question)}
    if _CONTINUES.match(question):
        return True
    if folded & _REFERS and len(own) <= _OWN_WORDS:
        return True
    return not own


def _name_runs(text: str) -> list[tuple[int, int]]:
    """Where runs of names are in ``text`` ("Mosul", "Dr. Hisham Al-Hashimi"), as ``(start, end)``.

    The sentence's first word is left out: it is capitalised whatever it is.
    """
    runs: list[tuple[int, int]] = []
    # Where sentences open, by the rule the index splits them with ("Dr. Hisham" opens none),
    # past any opening quote or bracket.
    openings = {
        start + len(text[start:end]) - len(text[start:end].lstrip(_OPENERS)) for start, end in sentence_spans(text)
    }
    for number, match in enumerate(WRITTEN_WORD.finditer(text)):
        # A word opening a sentence is capitalised whatever it is.
        if number == 0 or match.start() in openings or not _is_name(match.group(0)):
            continue
        gap = text[runs[-1][1] : match.start()] if runs else ""
        if runs and gap.strip() in ("", ".") and "\n" not in gap:
            runs[-1] = (runs[-1][0], match.end())
        else:
            runs.append((match.start(), match.end()))
    return runs


def follow(question: str, base: str) -> tuple[str, str]:
    """What to search for ``question`` after a conversation about ``base``, and the new base.

    ``base`` is the last question that stood on its own, with the names later follow-ups
    put in its place. A follow-up either changes the entity and keeps the rest ("and in
    Isfahan?": the base with its first name replaced by the new one, which becomes the
    base; "who else said that?": the base's words without its names), or keeps the
    entity and changes the aspect ("what about the library?": the base's names). One with
    no words of its own carries the base whole. A question that is no follow-up is
    searched as it is and becomes the base.
    """
    question = " ".join(question.split())
    base = " ".join(base.split())
    if not base or not is_follow_up(question):
        return question, question
    own = content_words(question)
    folded = {w.lower() for w in written_words(question)}
    names = _name_runs(question)
    runs = _name_runs(base)
    if names and runs:
        # The new entity takes the place of the base's first one, wherever it occurs as a whole word.
        start, end = runs[0]
        new = " ".join(question[s:e] for s, e in names)
        base = re.sub(rf"(?<!\w){re.escape(base[start:end])}(?!\w)", lambda _: new, base)[:BASE_MAX]
        carried = base
    elif names:
        # A name added to a question that had none: the question is asked about it.
        carried = base
    elif "else" in folded or "other" in folded or "others" in folded:
        carried = " ".join(w for w in content_words(base) if not _is_name(w) and w.lower() not in folded)
    elif own:
        carried = " ".join(base[s:e] for s, e in runs)
    else:
        carried = base
    carried = carried[:CARRIED_MAX].strip()
    return (f"{question} {carried}" if carried else question), base


def resolve(question: str, history: Sequence[str] = ()) -> str:
    """What to search for ``question`` after the earlier questions ``history`` (oldest first).

    The earlier questions are followed in turn, so that a chain of follow-ups keeps the
    subject of the question that started it, with the names it changed along the way.
    """
    base = ""
    for earlier in history:
        if earlier.strip():
            base = follow(earlier, base)[1]
    return follow(question, base)[0]
