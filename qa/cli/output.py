"""What the CLI prints: answers for a terminal, JSON, one-line messages; article text never drives the terminal."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence

from ..answer.compose import Answer
from ..answer.quotes import Quote
from ..text.lines import line_spans
from ..text.visible import visible

_BOLD = "\033[1;33m"
_RESET = "\033[0m"

#: C0 and C1 control characters and DEL, except newline and tab: they can move the cursor,
#: retitle the window or hide text, so they are shown as escapes, never sent to a terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: DEL and C1 controls, which ``json.dumps(ensure_ascii=False)`` leaves raw.
_JSON_RAW_CONTROL = re.compile(r"[\x7f-\x9f]")


def printable(text: str) -> str:
    r"""``text`` safe for a terminal: control characters other than newline and tab shown as ``\xNN``."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def json_text(data: object) -> str:
    """``data`` as indented JSON; every control character is a JSON escape, so the text decodes verbatim."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    # Raw DEL/C1 characters can only occur inside JSON strings, where \u00XX means the same character.
    return _JSON_RAW_CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def say(message: str) -> None:
    """Print a progress or warning line to standard error (file names in it may hold control characters)."""
    print(visible(message), file=sys.stderr, flush=True)


def error(message: str) -> None:
    """Print ``message`` as the one ``qa: error: …`` line on standard error."""
    print(f"qa: error: {visible(' '.join(message.splitlines()))}", file=sys.stderr)


def _highlighted(text: str, spans: Sequence[tuple[int, int]], colour: bool) -> str:
    """The quote with its highlighted sentences in bold when printing to a terminal."""
    if not colour or not spans:
        return printable(text)
    out, last = [], 0
    # Escaped piece by piece: the spans count characters of the unescaped text.
    for start, end in sorted(spans):
        out += [printable(text[last:start]), _BOLD, printable(text[start:end]), _RESET]
        last = end
    out.append(printable(text[last:]))
    return "".join(out)


def format_answer(answer: Answer, *, colour: bool = False) -> str:
    """Render an answer for the terminal: citations, verbatim quotes, highlights, then the further passages.

    Text from the articles is shown verbatim except for control characters, which are escaped (see
    :func:`printable`) so that an article cannot drive the terminal.
    """
    lines = [printable(answer.message), ""]
    if answer.searched and answer.searched != answer.question:
        lines += [f"searched for: {printable(answer.searched)}", ""]
    for quote in answer.quotes:
        lines += _quote_lines(quote, colour, answer.found)
    if answer.more:
        lines += ["more passages (less likely to answer):", ""]
        for quote in answer.more:
            lines += _quote_lines(quote, colour, answer.found)
    lines += [f"note: {printable(warning)}" for warning in answer.warnings]
    return "\n".join(lines).rstrip() + "\n"


def _quote_lines(quote: Quote, colour: bool, found: bool) -> list[str]:
    """One quote for the terminal: rank, title and citation, the verbatim text, its best sentence."""
    lines = []
    title = f" {printable(quote.title)} —" if quote.title else ""
    # The ranking score is relative to the other passages: not shown when none answers.
    score = f"  (match {quote.score:.2f})" if found else ""
    lines.append(f"[{quote.rank}]{title} {printable(quote.citation)}{score}")
    # Lines as citations count them (CRLF, CR or LF), each escaped, its share of the highlights in bold.
    for start, end in line_spans(quote.text):
        spans = [(max(s, start) - start, min(e, end) - start) for s, e in quote.highlights if s < end and e > start]
        lines.append(f"    > {_highlighted(quote.text[start:end], spans, colour)}")
    if quote.highlights and not colour:
        start, end = quote.highlights[0]
        lines.append(f"    best sentence: {printable(quote.text[start:end])}")
    if quote.also_in:
        lines.append(f"    also in: {printable(', '.join(quote.also_in))}")
    lines.append("")
    return lines
