"""The side panels' HTML: conversations and documents listed, uploads reported, everything escaped."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from qa.store.catalog import DocumentInfo
from qa.store.conversations import Summary
from qa.web.panels import LISTED, added_html, conversations_html, documents_html, message_html
from qa.web.uploads import Added

HOSTILE = "<img src=x onerror=alert(1)> \"quoted\" 'single' & more"
NOW = 1_700_000_000.0


class Tags(HTMLParser):
    """Every start tag of a fragment with its attributes, and its text, as a browser would read them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def with_action(self, action: str) -> list[dict[str, str | None]]:
        return [attrs for _, attrs in self.tags if attrs.get("data-action") == action]

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def assert_no_injection(html: str) -> Tags:
    """No markup from the hostile text: no ``<img>``, no event handler attribute, no raw ``<`` of it."""
    tags = Tags(html)
    assert tags.named("img") == []
    assert all(not key.startswith("on") for _, attrs in tags.tags for key in attrs)
    assert "<img" not in html
    return tags


def summary(cid: str, title: str = "", turns: int = 2) -> Summary:
    return Summary(id=cid, title=title, created=NOW, updated=NOW + 60, turns=turns)


def doc(
    source: str, title: str = "", *, skipped: str | None = None, paragraphs: int = 3, pages: int | None = None
) -> DocumentInfo:
    return DocumentInfo(
        source=source,
        title=title,
        skipped=skipped,
        paragraphs=0 if skipped else paragraphs,
        pages=pages,
        size=100,
        indexed=NOW,
        lead="",
    )


# -- conversations_html ------------------------------------------------------------------------------------------


def test_no_conversations_says_so() -> None:
    html = conversations_html([], "")
    assert "No saved conversations yet." in html
    assert "<li" not in html


def test_conversations_are_listed_in_the_order_given_with_their_counts() -> None:
    html = conversations_html([summary("b" * 32, "Second", turns=1), summary("a" * 32, "First", turns=4)], "")
    tags = Tags(html)
    assert [a["data-conversation"] for a in tags.with_action("open")] == ["b" * 32, "a" * 32]
    assert "1 question" in tags.all_text and "1 questions" not in tags.all_text
    assert "4 questions" in tags.all_text
    assert tags.all_text.index("Second") < tags.all_text.index("First")


def test_the_open_conversation_is_marked() -> None:
    html = conversations_html([summary("a" * 32, "One"), summary("b" * 32, "Two")], "b" * 32)
    tags = Tags(html)
    opened = tags.with_action("open")
    assert [a.get("aria-current") for a in opened] == [None, "true"]
    rows = tags.named("li")
    assert [("qa-conv-open" in (r["class"] or "").split()) for r in rows] == [False, True]


def test_no_conversation_is_marked_when_another_is_open() -> None:
    html = conversations_html([summary("a" * 32, "One")], "c" * 32)
    assert "aria-current" not in html
    assert 'qa-conv-open"' not in html and "qa-conv qa-conv-open" not in html


def test_untitled_conversation_is_a_new_conversation() -> None:
    tags = Tags(conversations_html([summary("a" * 32, "")], ""))
    assert "New conversation" in tags.all_text
    assert tags.with_action("rename")[0]["data-title"] == "New conversation"


def test_hostile_conversation_titles_are_escaped_everywhere() -> None:
    cid = 'a"><img src=x onerror=alert(2)>'
    html = conversations_html([summary(cid, HOSTILE)], cid)
    tags = assert_no_injection(html)
    assert HOSTILE in tags.all_text
    for action in ("rename", "delete"):
        [button] = tags.with_action(action)
        assert button["data-title"] == HOSTILE
        assert button["data-conversation"] == cid
        assert button["aria-label"] is not None and HOSTILE in button["aria-label"]
    [opener] = tags.with_action("open")
    assert opener["data-conversation"] == cid
    assert opener.get("aria-current") == "true"


def test_conversation_dates_are_shown_to_the_minute() -> None:
    html = conversations_html([Summary(id="a" * 32, title="T", created=0.0, updated=0.0, turns=0)], "a" * 32)
    assert "–" in Tags(html).all_text
    assert "0 questions" in html


def test_empty_conversations_are_listed_only_while_open() -> None:
    empty = Summary(id="a" * 32, title="", created=0.0, updated=0.0, turns=0)
    asked = Summary(id="b" * 32, title="Asked", created=0.0, updated=0.0, turns=2)
    assert "a" * 32 not in conversations_html([empty, asked], "b" * 32)
    assert "a" * 32 in conversations_html([empty, asked], "a" * 32)


# -- documents_html ----------------------------------------------------------------------------------------------


def test_no_documents_says_how_to_add_some() -> None:
    html = documents_html([])
    assert "No documents yet" in html
    assert 'data-count="0"' in html


def test_documents_show_title_file_format_paragraphs_and_pages() -> None:
    html = documents_html([doc("report.pdf", "Kettle Point", paragraphs=9, pages=2), doc("a.txt", "", paragraphs=1)])
    tags = Tags(html)
    text = tags.all_text
    assert "2 indexed, 0 skipped" in text
    assert "PDF · 9 paragraphs · 2 pages" in text
    assert "TXT · 1 paragraph ·" in text and "1 paragraphs" not in text
    # A document without a title is named by its file.
    assert [a["aria-label"] for a in tags.with_action("view")] == ["Open Kettle Point", "Open a.txt"]
    assert [a["data-source"] for a in tags.with_action("view")] == ["report.pdf", "a.txt"]
    assert 'data-count="2"' in html


def test_hostile_document_names_and_titles_are_escaped_everywhere() -> None:
    source = "uploads/<img src=x onerror=alert(1)>&\"q'.txt"
    reason = "<script>alert(3)</script> & broken"
    html = documents_html([doc(source, HOSTILE), doc("bad<b>.pdf", HOSTILE, skipped=reason)])
    tags = assert_no_injection(html)
    assert tags.named("script") == [] and tags.named("b") == []
    [view] = tags.with_action("view")
    assert view["data-source"] == source
    assert view["aria-label"] == f"Open {HOSTILE}"
    removes = tags.with_action("remove")
    assert [r["data-source"] for r in removes] == [source, "bad<b>.pdf"]
    assert [r["aria-label"] for r in removes] == [f"Remove {source}", "Remove bad<b>.pdf"]
    assert [li["data-source"] for li in tags.named("li")] == [source, "bad<b>.pdf"]
    assert source in tags.all_text and HOSTILE in tags.all_text
    assert f"Skipped: {reason}" in tags.all_text


def test_search_narrows_by_file_name_or_title_ignoring_case() -> None:
    docs = [doc("notes/ferry.txt", "Cramond crossing"), doc("mill.md", "The Tide MILL"), doc("hives.docx", "Bees")]
    by_name = Tags(documents_html(docs, "FERRY"))
    assert [a["data-source"] for a in by_name.with_action("view")] == ["notes/ferry.txt"]
    by_title = Tags(documents_html(docs, "  tide mill "))
    assert [a["data-source"] for a in by_title.with_action("view")] == ["mill.md"]
    by_folder = documents_html(docs, "notes/")
    assert 'data-count="1"' in by_folder
    everything = documents_html(docs, "   ")
    assert 'data-count="3"' in everything


def test_search_matching_nothing_says_so() -> None:
    html = documents_html([doc("a.txt", "Alpha")], "zebra")
    assert "No document matches." in html
    assert 'data-count="0"' in html


def test_search_keeps_the_corpus_counts() -> None:
    docs = [doc("a.txt", "Alpha"), doc("b.txt", "Beta"), doc("c.doc", "", skipped="not read")]
    assert "2 indexed, 1 skipped" in Tags(documents_html(docs, "alpha")).all_text


def test_more_than_listed_documents_says_how_many_more() -> None:
    docs = [doc(f"doc{n:04}.txt", f"Title {n}") for n in range(LISTED + 7)]
    html = documents_html(docs)
    tags = Tags(html)
    assert len(tags.named("li")) == LISTED
    assert "7 more: search to narrow the list." in tags.all_text
    assert f'data-count="{LISTED + 7}"' in html
    # The first LISTED, in order.
    assert tags.named("li")[-1]["data-source"] == f"doc{LISTED - 1:04}.txt"


def test_exactly_listed_documents_have_no_more_line() -> None:
    html = documents_html([doc(f"doc{n:04}.txt") for n in range(LISTED)])
    assert "more: search" not in html
    assert len(Tags(html).named("li")) == LISTED


def test_skipped_documents_show_their_reason_and_cannot_be_opened() -> None:
    html = documents_html([doc("locked.pdf", "", skipped="encrypted PDF: it needs a password")])
    tags = Tags(html)
    assert "Skipped: encrypted PDF: it needs a password" in tags.all_text
    assert tags.with_action("view") == []
    assert "paragraph" not in tags.all_text
    assert "0 indexed, 1 skipped" in tags.all_text
    # It can still be removed.
    assert [r["data-source"] for r in tags.with_action("remove")] == ["locked.pdf"]


def test_without_changes_there_are_no_remove_buttons() -> None:
    docs = [doc("a.txt", "Alpha"), doc("b.doc", "", skipped="not read")]
    tags = Tags(documents_html(docs, changes=False))
    assert tags.with_action("remove") == []
    assert "Remove" not in tags.all_text
    assert len(tags.with_action("view")) == 1
    assert len(Tags(documents_html(docs)).with_action("remove")) == 2


def test_document_without_a_known_time_or_format() -> None:
    info = DocumentInfo("README", "", None, 2, None, 10, None)
    text = Tags(documents_html([info])).all_text
    assert "file · 2 paragraphs · indexed –" in text


# -- added_html --------------------------------------------------------------------------------------------------


def test_nothing_added_is_no_html() -> None:
    assert added_html([], {}, {}) == ""


def test_added_files_say_what_became_of_each() -> None:
    added = [
        Added("one.txt", "uploads/one.txt", "added"),
        Added("single.txt", "uploads/single.txt", "added"),
        Added("locked.pdf", "uploads/locked.pdf", "added"),
        Added("slow.pdf", "uploads/slow.pdf", "added"),
        Added("again.txt", "uploads/one.txt", "duplicate", "the same as uploads/one.txt"),
        Added("virus.exe", "", "refused", "not a text, Markdown, HTML, PDF or Word file"),
    ]
    paragraphs = {"uploads/one.txt": 4, "uploads/single.txt": 1}
    skipped = {"uploads/locked.pdf": "encrypted PDF: it needs a password"}
    html = added_html(added, paragraphs, skipped)
    tags = Tags(html)
    rows = [li["class"] for li in tags.named("li")]
    assert rows == [
        "qa-added qa-added-ok",
        "qa-added qa-added-ok",
        "qa-added qa-added-bad",
        "qa-added qa-added-ok",
        "qa-added qa-added-same",
        "qa-added qa-added-bad",
    ]
    text = tags.all_text
    assert "one.txt — added as uploads/one.txt: 4 paragraphs" in text
    assert "single.txt — added as uploads/single.txt: 1 paragraph" in text and "1 paragraphs" not in text
    assert "locked.pdf — added as uploads/locked.pdf but skipped: encrypted PDF: it needs a password" in text
    assert "slow.pdf — added as uploads/slow.pdf; indexing…" in text
    assert "again.txt — the same as uploads/one.txt" in text
    assert "virus.exe — not added: not a text, Markdown, HTML, PDF or Word file" in text
    assert 'role="status"' in html


def test_hostile_upload_names_and_reasons_are_escaped() -> None:
    added = [
        Added(HOSTILE, "uploads/x.txt", "added"),
        Added(HOSTILE, "", "refused", HOSTILE),
        Added(HOSTILE, "uploads/x.txt", "duplicate", HOSTILE),
        Added("y.pdf", "uploads/<img src=x onerror=alert(1)>.pdf", "added"),
    ]
    skipped = {"uploads/<img src=x onerror=alert(1)>.pdf": HOSTILE}
    tags = assert_no_injection(added_html(added, {"uploads/x.txt": 2}, skipped))
    assert f"{HOSTILE} — not added: {HOSTILE}" in tags.all_text
    assert f"{HOSTILE} — {HOSTILE}" in tags.all_text
    assert f"but skipped: {HOSTILE}" in tags.all_text


# -- message_html ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("message", ["The upload is too large.", HOSTILE])
def test_message_is_an_escaped_alert(message: str) -> None:
    html = message_html(message)
    tags = assert_no_injection(html)
    [paragraph] = tags.named("p")
    assert paragraph["role"] == "alert"
    assert tags.all_text == message
