"""Follow-up questions without a language model: carrying the previous turn's subject over.

"and in Isfahan?" after "What aid do Mosul NGOs send?" means "what aid do Isfahan NGOs
send?". A question that refers back (starts with "and", "what about"…, or leans on "that",
"it", "else"… with few words of its own) is searched together with the previous search's
subject terms: its content words, less the question words, less the names it replaces.

With the corpus at hand (:class:`Corpus`), the conversation also knows which file it is
about: the file of the previous answer's first passage. A follow-up that names the subject
of another file ("and in Isfahan?", "and the tide mill?") moves there, and that file's
passages rank first; one that does not ("what did they send?") keeps the file, whose
passages rank first. A question with words of its own beside the new subject ("How much
does it cost to sponsor a hive?") stands alone, pronoun or not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..config import QUESTION_CHARS
from ..text.sentences import sentence_spans
from ..text.words import WRITTEN_WORD, written_words

#: Openings that make a question continue the previous one.
_CONTINUES = re.compile(
    r"^\s*(?:(?:ok|okay|right|well|thanks|great|cool|hmm|alright)\b[\s,.!;:-]*)*"
    r"(and|but|also|or|so|then|what about|how about|what of|same for|same question for|likewise)\b",
    re.IGNORECASE,
)

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
        "ok",
        "okay",
        "please",
        "thanks",
        "thank",
        "question",
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

#: Words that ask: a follow-up holding one after its opening asks a question of its own.
_ASKING = frozenset(["who", "whom", "whose", "what", "when", "where", "which", "why", "how"])

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
        # "when's", "it's" are their first word.
        if re.sub(r"['’]s$", "", folded) in _FUNCTION:
            continue
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


def _renamed(text: str, old: str, new: str) -> str:
    """``text`` with the name ``old`` replaced by ``new`` wherever it stands as a whole word."""
    return re.sub(rf"(?<!\w){re.escape(old)}(?!\w)", lambda _: new, text)


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
        base = _renamed(base, base[start:end], new)[:BASE_MAX]
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


@dataclass(frozen=True)
class Where:
    """Where a word of a question occurs in the corpus.

    Attributes:
        held: The files with a passage that holds it (``None``: too many to list, a common word).
        subject_of: The files it is a subject of (held by a good share of their passages, or
            in their title).
        shares: The share of each file's passages that hold it (for the files it is a subject of).

    """

    held: frozenset[str] | None
    subject_of: frozenset[str] = frozenset()
    shares: Mapping[str, float] = field(default_factory=dict)


class Corpus(Protocol):
    """What resolving a follow-up asks of the index."""

    def where(self, words: Sequence[str]) -> dict[str, Where]:
        """Where each of ``words`` occurs (words that are no search terms are left out)."""
        ...

    def subject(self, searched: str, focus: frozenset[str]) -> str | None:
        """The file of the first passage found for ``searched`` (``focus``'s files first)."""
        ...


@dataclass(frozen=True)
class Resolved:
    """A question as the conversation makes it.

    Attributes:
        searched: What to search for.
        base: What a later follow-up builds on.
        focus: Files whose passages rank first: the subject the question moved to or stayed on.
        subject: The file this turn is about (of its first passage), when the corpus is known.
        ordered_by: What orders the passages when it is not ``searched`` (``""``): a follow-up
            that stays on its file is ranked there by its own words ("when's it open?"),
            which the carried names would drown; ``searched`` still judges whether it answers.

    """

    searched: str
    base: str
    focus: frozenset[str] = frozenset()
    subject: str | None = None
    ordered_by: str = ""


#: Words of its own, beside those naming a new subject, that make a question stand alone
#: ("How much does it cost to sponsor a hive?": cost, sponsor).
OWN_SUBJECT_WORDS = 2
#: Share of a file's passages holding a word above which the word is the file's own (its name,
#: its title's words): such words stay behind when the conversation moves to another file.
OWN_WORD_SHARE = 0.6
#: Earlier questions a conversation reads back (the subject is the last few turns').
HISTORY_TURNS = 12


def step(
    question: str, base: str, subject: str | None = None, corpus: Corpus | None = None, *, track: bool = True
) -> Resolved:
    """What ``question`` searches after a conversation about ``base`` (the file ``subject``).

    Without ``corpus`` this is :func:`follow`. With it, a follow-up's words that another file
    holds and the conversation's file does not, and that are that file's subject or a name,
    name a new subject: the question moves there (the old subject's own words are not
    carried, its names are replaced) and that file's passages rank first. Beside such
    words, two more of its own make a question stand alone ("and what is Mosul planning
    next?"); so do three or more of its own that the conversation's file does not hold, or
    two that no file holds ("How much does it cost to sponsor a hive?", "and what is the
    capital of France?"). A follow-up that names no new subject ranks the conversation's
    file first, ordered by its own words. ``track``: find the file this turn is about (a
    search; the last turn of a conversation needs none).
    """
    question = " ".join(question.split())[:BASE_MAX]
    base = " ".join(base.split())[:BASE_MAX]

    def about(searched: str, focus: frozenset[str]) -> str | None:
        return corpus.subject(searched, focus) if corpus is not None and track else None

    if not base or not is_follow_up(question):
        return Resolved(question, question, frozenset(), about(question, frozenset()))
    if corpus is None:
        searched, carried_base = follow(question, base)
        return Resolved(searched, carried_base)
    own = content_words(question)
    earlier = content_words(base)
    where = corpus.where([*own, *earlier])
    names = {w.lower() for s, e in _name_runs(question) for w in content_words(question[s:e])}
    new = [
        w
        for w in own
        if (found := where.get(w)) is not None
        and found.held
        and subject not in found.held
        and (found.subject_of or w.lower() in names)
    ]
    known = [w for w in own if w in where]
    ties = [w for w in known if where[w].held is None or subject in (where[w].held or ())]
    unheld = len(known) >= OWN_SUBJECT_WORDS and all(where[w].held == frozenset() for w in known)
    if (new and len(own) - len(new) >= OWN_SUBJECT_WORDS) or (
        subject is not None and not ties and (len(known) > OWN_SUBJECT_WORDS or unheld)
    ):
        # Words of its own: nothing ties it to the conversation.
        return Resolved(question, question, frozenset(), about(question, frozenset()))
    folded = {w.lower() for w in written_words(question)}
    if not new:
        searched, carried_base = follow(question, base)
        # Someone or something *else* may live in another file: no file is preferred then.
        keep = frozenset() if folded & {"else", "other", "others"} or subject is None else frozenset({subject})
        # Within its file, a question with words of its own is ranked by them alone.
        alone = question if keep and own and searched != question else ""
        return Resolved(searched, carried_base, keep, about(alone or searched, keep), alone)
    # A new subject: the files it is the subject of (or that hold the name), all its words', else any one's.
    owners = [where[w].subject_of or where[w].held or frozenset() for w in new]
    focus = frozenset.intersection(*owners) or frozenset.union(*owners)
    # The old subject's own words (in most of its passages, or its title's; not held by the new
    # files) stay behind.
    behind = {
        w.lower()
        for w in earlier
        if w not in new
        and (found := where.get(w)) is not None
        and found.shares.get(subject or "", 0.0) > OWN_WORD_SHARE
        and not (found.held and found.held & focus)
    }
    runs = _name_runs(base)
    if runs:
        # The new subject takes the place of the old subject's name (else the first name), also
        # when written in lower case ("what about mosul?").
        def weight(run: tuple[int, int]) -> float:
            """How much the old subject's file is about this name (the share of its passages holding it)."""
            words = [w for w in content_words(base[run[0] : run[1]]) if w.lower() in behind]
            return max((where[w].shares.get(subject or "", 0.0) for w in words if w in where), default=0.0)

        start, end = max(runs, key=weight)
        spans = _name_runs(question)
        name = " ".join(question[s:e] for s, e in spans) if spans else " ".join(new)
        carried_base = _renamed(base, base[start:end], name)
    else:
        carried_base = base
    carried_base = _without(carried_base, behind)[:BASE_MAX]
    searched = f"{question} {carried_base[:CARRIED_MAX]}".strip()
    # A question of its own about the new subject ("and what did Amina say?") is ordered
    # there by its own words; "and in Isfahan?" by the question it carries.
    alone = question if _asks(question) else ""
    return Resolved(searched, carried_base, focus, about(alone or searched, focus), alone)


def _asks(question: str) -> bool:
    """Whether ``question`` asks a question of its own after any opening ("and", "what about")."""
    opening = _CONTINUES.match(question)
    rest = question[opening.end() :] if opening else question
    return bool({w.lower() for w in written_words(rest)} & _ASKING)


#: Words that cannot end a phrase: what :func:`_without` leaves of "in Thornbury?".
_DANGLING = frozenset(["in", "at", "of", "for", "the", "a", "an", "on", "to", "from", "with", "by", "about"])
#: Punctuation that closes a phrase.
_CLOSING = re.compile(r"[?.!,;:]+$")


def _without(text: str, words: set[str]) -> str:
    """``text`` without the whole words ``words`` (any case, possessive too), and without what they leave dangling.

    "who looks after the seed library in Thornbury?" without seed, library and Thornbury is
    "who looks after?": a preposition or article left before a removed word's closing
    punctuation goes too. One pass over the words (no backtracking on long inputs).
    """
    if not words:
        return text
    kept: list[str] = []
    for token in text.split():
        closing = _CLOSING.search(token)
        tail = closing.group(0) if closing else ""
        core = token[: len(token) - len(tail)]
        if re.sub(r"['’]s$", "", core).lower() not in words:
            kept.append(token)
            continue
        if tail:
            # What the removed word leaves dangling before its punctuation goes too.
            while kept and kept[-1].lower() in _DANGLING:
                kept.pop()
            if kept:
                kept[-1] += tail
    return " ".join(kept)


def conversation(question: str, history: Sequence[str] = (), corpus: Corpus | None = None) -> Resolved:
    """``question`` after the earlier questions ``history`` (oldest first).

    The earlier questions are followed in turn, so that a chain of follow-ups keeps the
    subject of the question that started it, with the names it changed along the way. The
    reading starts at the last question that stood on its own by its words; with the corpus,
    only the last :data:`HISTORY_TURNS` turns are searched (what each was about), those
    before them are followed by their words alone. A question that is no follow-up reads
    no history.
    """
    if not is_follow_up(question):
        return Resolved(" ".join(question.split()), " ".join(question.split()))
    turns = [q for q in history if q.strip()]
    openers = [n for n, q in enumerate(turns) if not is_follow_up(q)]
    first = openers[-1] if openers else 0
    searched_from = max(first, len(turns) - HISTORY_TURNS)
    base, subject = "", None
    for number in range(first, len(turns)):
        if number < searched_from:
            base = step(turns[number], base).base
            continue
        if number == searched_from and number > first and corpus is not None:
            # The words-only turns before: the file they were about, once.
            subject = corpus.subject(base, frozenset())
        turn = step(turns[number], base, subject, corpus)
        base, subject = turn.base, turn.subject
    return step(question, base, subject, corpus, track=False)


def resolve(question: str, history: Sequence[str] = ()) -> str:
    """What to search for ``question`` after the earlier questions ``history``, from the words alone."""
    return conversation(question, history).searched
