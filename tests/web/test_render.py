"""The chat's HTML: everything from files, file names and people is escaped; quotes, badges, the source pane."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from qa.answer.compose import Answer, quote_count
from qa.answer.highlight import highlight_spans
from qa.answer.quotes import Quote
from qa.text.passages import Passage
from qa.text.titles import readable_title as article_title
from qa.web.conversation import Notice, Turn, quote_text
from qa.web.pane import source_html
from qa.web.render import conversation_html
from qa.web.sourceview import SourceView

HOSTILE = 'we`ird "<img src=x onerror=alert(1)>" & *x*.txt'
TEXT = "Call <b>now</b> & see https://example.com/a_b_c or `code` [link](u) $5 **bold**."


class Tags(HTMLParser):
    """Collects the tag names and attribute names of a piece of HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


def quote(rank: int = 1, score: float = 0.9, text: str = TEXT, source: str = HOSTILE) -> Quote:
    passage = Passage(source, 1, 1, 1, 0, len(text), text, "0" * 64)
    return Quote(passage, score, rank, f"corpus/{source} ¶1 (line 1)", 0.6, title="A <title> & more")


def test_hostile_file_names_and_text_render_as_text() -> None:
    answer = Answer("q <script>", True, (quote(),), "Quoting 1 passage.", more=(quote(2, 0.5),))
    page = conversation_html([Turn(3, 'q <script>"', "q <script>", answer=answer)])
    parser = Tags()
    parser.feed(page)
    assert {"img", "b", "script", "a"}.isdisjoint(parser.tags)
    assert "onerror" not in parser.attributes
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert HOSTILE in text and TEXT in text and "A <title> & more" in text
    # The copy button carries the verbatim quote and citation in an attribute, escaped.
    copies = re.findall(r'data-copy="([^"]*)"', page)
    assert html.unescape(copies[0]) == quote_text(quote()) and TEXT in quote_text(quote())


def test_pending_turn_shows_the_question_and_a_searching_indicator() -> None:
    page = conversation_html([Turn(0, "Who <directs>?")])
    assert "Who &lt;directs&gt;?" in page and "qa-searching" in page and 'role="status"' in page


def test_not_found_answers_mark_nothing_and_show_no_score() -> None:
    answer = Answer("q", False, (quote(),), "No passage answers this question.")
    answer_quote = answer.quotes[0]
    marked = Answer("q", False, (Quote(**{**answer_quote.__dict__, "highlights": ((0, 4),)}),), "none")
    page = conversation_html([Turn(0, "q", answer=marked)])
    assert "<mark" not in page and "match " not in page


def test_stale_quotes_get_a_badge_with_a_reask_button() -> None:
    answer = Answer("q", True, (quote(),), "Quoting 1 passage.")
    page = conversation_html([Turn(5, "q", answer=answer)], {(5, "q1"): Notice(moved=False, now="")})
    assert page.count("Changed since this answer") == 1 and 'data-action="reask" data-turn="5"' in page
    moved = conversation_html([Turn(5, "q", answer=answer)], {(5, "q1"): Notice(moved=True, now="a.txt ¶4 (line 9)")})
    assert "Moved since this answer: the same paragraph is now at a.txt ¶4 (line 9)" in moved


def test_source_pane_numbers_lines_and_marks_the_paragraph() -> None:
    text = "# Title <x>\n\nFirst <para>.\nStill first. Answer here.\n\nLast."
    start = text.index("First")
    end = text.index("Answer here.") + len("Answer here.")
    answer_start = text.index("Answer")
    view = SourceView(HOSTILE, "Title <x>", text, start, end, ((answer_start, end),), True, "c ¶2")
    pane = source_html(view)
    assert pane.count("<tr ") == 6 and 'id="qa-line-4"' in pane
    parser = Tags()
    parser.feed(pane)
    assert "img" not in parser.tags and "para" not in parser.tags
    pieces = re.findall(r'<span class="qa-para">(.*?)</span>', pane)
    assert "\n".join(html.unescape(re.sub(r"<[^>]+>", "", p)) for p in pieces) == text[start:end]
    assert '<mark class="qa-answer">Answer here.</mark>' in pane and "changed since the answer" in pane


def test_relevance_cut_keeps_the_best_and_those_close_to_it() -> None:
    hits = [quote(1, 0.95), quote(2, 0.9), quote(3, 0.7), quote(4, 0.69)]
    assert quote_count(hits, margin=0.1, level=0.75) == 2
    assert quote_count(hits, margin=0.3, level=0.75) == 4
    assert quote_count(hits[:1], margin=0.0, level=0.75) == 1
    assert quote_count([], margin=0.1, level=0.75) == 0
    # A cosine at the confident level shows a passage whatever its distance.
    confident = [quote(1, 0.95), Quote(**{**quote(2, 0.5).__dict__, "dense_score": 0.8})]
    assert quote_count(confident, margin=0.1, level=0.75) == 2


def test_only_sentences_over_the_bar_are_highlighted() -> None:
    spans = [(0, 5), (6, 10), (11, 15)]
    assert highlight_spans([0.2, 0.9, 0.89], spans, bar=0.5) == ((6, 10),)
    assert highlight_spans([0.2, 0.4, 0.3], spans, bar=0.5) == ()
    assert highlight_spans([0.7, 0.7, 0.1], spans, bar=0.5) == ((0, 5), (6, 10))


def test_article_titles_people_can_read() -> None:
    assert article_title("a.md", "# The Corner Bakery\n\nText.") == "The Corner Bakery"
    assert article_title("b.txt", "Short first line\nMore text follows here.") == "Short first line"
    long = "In the heart of Iraq, the ancient city of Mosul is playing an unexpected yet pivotal role. More."
    title = article_title("000_3ff9e896d4582ee2.txt", long)
    assert title.endswith("…") and len(title) <= 65 and long.startswith(title[:-1])


def test_source_pane_counts_bare_cr_and_crlf_line_breaks() -> None:
    text = "a\rb\r\rc para\r\nd"
    start = text.index("c")
    pane = source_html(SourceView("x.txt", "T", text, start, start + 6, (), False, "x ¶3"))
    assert pane.count("<tr ") == 5
    assert (
        'id="qa-line-4" class=qa-in-quote><td class="qa-lno">4</td><td class="qa-line"><span class="qa-para">c para'
        in (pane)
    )


def test_citations_stay_one_line() -> None:
    from qa.search.hits import citation

    passage = Passage("a\nb\x1b[31m\x07.txt", 2, 3, 3, 0, 1, "x", "0" * 64)
    cited = citation("seeds", passage)
    assert cited == "seeds/a\\x0ab\\x1b[31m\\x07.txt ¶2 (line 3)"
    assert all(ord(c) >= 32 for c in cited)


def test_an_abstention_shows_its_closest_passages_collapsed_and_no_more_than_an_answer_would() -> None:
    closest = (quote(1, 0.3), quote(2, 0.2))
    further = (quote(3, 0.1), quote(4, 0.05), quote(5, 0.01))
    answer = Answer("q", False, closest, "No passage answers this question.", more=further)
    page = conversation_html([Turn(0, "q", answer=answer)])
    # One collapsed list of the quotes an answer would show; the further passages are not shown.
    assert page.count("<details") == 1 and '<details class="qa-more qa-closest" data-turn="0">' in page
    assert "The 2 closest passages (probably not an answer)" in page
    assert page.count('<figure class="qa-quote"') == 2
    assert 'data-quote="q1"' in page and 'data-quote="q2"' in page and 'data-quote="m3"' not in page
