"""Example questions made from the documents served, kept only where the index answers them.

A document's subjects are its title, then the names of several words its text gives
("Basra Cultural Center": specific, so well answered), then single names, most repeated
first. A question about a subject is offered only if the index answers it with a quote,
confidently where any is: an example the bot refuses would teach a new user nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from ..store.catalog import DocumentInfo
from ..text.words import WRITTEN_WORD

#: A capitalised word ("Basra", "O'Neill", "Al-Rashid").
_NAME = re.compile(r"^[A-Z][\w'’\-]*$")

#: Words of a title shown at most in a question.
TITLE_WORDS = 8

#: Subjects tried per document, and documents looked at, at most (each try is one answer).
SUBJECTS_PER_DOCUMENT = 4
DOCUMENTS_TRIED = 8

#: How well the index answers a question: not at all, with a weak match, confidently.
NOT_ANSWERED, WEAK, CONFIDENT = 0, 1, 2

#: Characters of a document read for its names.
NAME_CHARS = 20_000


def question_about(subject: str) -> str:
    """The example question asked about ``subject``."""
    return f"What do the articles say about {subject}?"


def names(text: str) -> list[str]:
    """The names ``text`` gives (runs of capitalised words not at a sentence's start), most repeated first."""
    counted: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text[:NAME_CHARS]):
        run: list[str] = []
        end = 0
        for number, match in enumerate(WRITTEN_WORD.finditer(sentence)):
            word = match.group(0)
            # Punctuation between two words ends a name ("Paris, London" are two).
            if run and sentence[end : match.start()].strip():
                _count(run, counted, first_seen)
                run = []
            end = match.end()
            # A sentence's first word is capitalised whatever it is; "I" is no name.
            if number > 0 and _NAME.match(word) and word != "I":
                run.append(word.removesuffix("’s").removesuffix("'s"))
                continue
            _count(run, counted, first_seen)
            run = []
        _count(run, counted, first_seen)
    # Most repeated first; of as many, the earliest.
    return sorted(counted, key=lambda name: (-counted[name], first_seen[name]))


def _count(run: list[str], counted: Counter[str], first_seen: dict[str, int]) -> None:
    """Count one run of capitalised words as a name."""
    if run:
        name = " ".join(run)
        first_seen.setdefault(name, len(first_seen))
        counted[name] += 1


def subjects(document: DocumentInfo, text: str) -> list[str]:
    """What a document is about, best first: its title, names of several words, then single names."""
    found: list[str] = []
    if document.title:
        words = document.title.split()
        # A title made from a file name is all lower case ("zorblat lighthouse"): written as a name.
        if not any(character.isupper() for character in document.title):
            words = [word[:1].upper() + word[1:] for word in words]
        found.append(" ".join(words[:TITLE_WORDS]) + ("…" if len(words) > TITLE_WORDS else ""))
    given = names(text)
    # A name of several words says more than one word ("Basra Cultural Center" over "Basra").
    ordered = [name for name in given if " " in name] + [name for name in given if " " not in name]
    found.extend(name for name in ordered if name not in found)
    return found[:SUBJECTS_PER_DOCUMENT]


def example_questions(
    documents: Iterable[DocumentInfo],
    text_of: Callable[[str], str],
    answered: Callable[[str], int],
    count: int,
) -> list[str]:
    """Up to ``count`` different questions the index answers, at most one per document, in the documents' order.

    A document's first confidently answered question is taken; where a document has none,
    its first weakly answered one fills a place left over.

    Args:
        documents: The documents served (skipped ones are passed over).
        text_of: A document's indexed text, by its source.
        answered: How well the index answers a question (:data:`NOT_ANSWERED`, :data:`WEAK`, :data:`CONFIDENT`).
        count: Questions wanted.

    """
    found: list[tuple[int, int, str]] = []
    tried = 0
    for document in documents:
        if sum(level == CONFIDENT for level, _, _ in found) == count or tried == DOCUMENTS_TRIED:
            break
        if document.skipped is not None:
            continue
        tried += 1
        weak = ""
        for subject in subjects(document, text_of(document.source)):
            question = question_about(subject)
            if any(question == known for _, _, known in found):
                continue
            level = answered(question)
            if level == CONFIDENT:
                found.append((CONFIDENT, tried, question))
                break
            if level == WEAK and not weak:
                weak = question
        else:
            if weak:
                found.append((WEAK, tried, weak))
    # Confident ones first in choosing, shown in the documents' order.
    chosen = sorted(found, key=lambda item: (-item[0], item[1]))[:count]
    return [question for _, _, question in sorted(chosen, key=lambda item: item[1])]
