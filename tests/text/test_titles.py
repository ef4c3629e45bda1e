"""Titles and leads (qa.text.titles): headings, titles from file names, leads, and readable titles."""

from __future__ import annotations

import pytest

from qa.text.titles import TITLE_MAX, heading, lead_of, readable_title, title_and_lead, title_from_name

#: A file name that is an id, not words: it gives no title.
ID_NAME = "000_3ff9e896d4582ee2.txt"


@pytest.mark.parametrize(
    ("source", "title"),
    [
        ("Super_Bowl_50.txt", "Super Bowl 50"),
        ("nested/deeper/Great-Lakes.md", "Great Lakes"),
        ("Mount Etna.txt", "Mount Etna"),
        ("café_au_lait.txt", "café au lait"),
        ("2019_annual_report.pdf", "2019 annual report"),
    ],
)
def test_a_name_made_of_words_becomes_a_title(source: str, title: str) -> None:
    assert title_from_name(source) == title


@pytest.mark.parametrize(
    "source",
    [
        ID_NAME,
        "ab.txt",  # no word of three letters
        "x_y_z.txt",
        "2019_07.txt",  # digits only
        "notes_v2.txt",  # a word mixing letters and digits looks like an id
        "a1b2c3d4.md",
    ],
)
def test_a_name_that_is_an_id_gives_no_title(source: str) -> None:
    assert title_from_name(source) == ""


def test_only_the_file_name_and_not_its_folders_make_the_title() -> None:
    assert title_from_name("history_of_art/2019_07.txt") == ""
    assert title_from_name("000_ab12/River_Danube.txt") == "River Danube"


@pytest.mark.parametrize(
    ("line", "title"),
    [
        ("# The Corner Bakery", "The Corner Bakery"),
        ("###### Six marks", "Six marks"),
        ("   # Three spaces before", "Three spaces before"),
        ("# Closed heading ##", "Closed heading"),
        ("#\tTab after the marks", "Tab after the marks"),
        ("# ", ""),
        ("# C#", "C#"),
        ("# foo#", "foo#"),
        ("## foo ## ", "foo"),
        ("# ###", ""),
    ],
)
def test_heading_lines_match_with_their_title(line: str, title: str) -> None:
    found = heading(line)
    assert found is not None and found[1] == title


@pytest.mark.parametrize("line", ["####### Seven marks", "#hashtag", "Not # a heading", "# Two\n# lines"])
def test_lines_that_are_not_headings_do_not_match(line: str) -> None:
    assert heading(line) is None


def test_the_lead_is_the_first_sentence_after_the_headings() -> None:
    paragraphs = ["# Title", "## Section", "Etna erupts often. Its lava shapes farmland.", "Later text."]
    assert lead_of(paragraphs) == "Etna erupts often."


def test_no_body_paragraph_means_no_lead() -> None:
    assert lead_of([]) == ""
    assert lead_of(["# Only", "## Headings"]) == ""


def test_lead_of_takes_any_iterable_of_paragraphs() -> None:
    assert lead_of(p for p in ["# Title", "One sentence. Two."]) == "One sentence."


def test_a_heading_line_gives_the_title_and_the_body_the_lead() -> None:
    text = "# The Corner Bakery #\n\nIt opened in 1952. It bakes before dawn.\n"
    assert title_and_lead(ID_NAME, text) == ("The Corner Bakery", "It opened in 1952.")


def test_a_heading_wins_over_a_title_like_file_name() -> None:
    assert title_and_lead("Great_Lakes.txt", "# Superior\n\nThe largest lake.")[0] == "Superior"


def test_without_a_heading_the_title_comes_from_the_file_name() -> None:
    assert title_and_lead("Great_Lakes.txt", "Superior is large. Very.") == ("Great Lakes", "Superior is large.")
    assert title_and_lead(ID_NAME, "Superior is large. Very.") == ("", "Superior is large.")


def test_an_empty_heading_falls_back_to_the_file_name() -> None:
    assert title_and_lead("Great_Lakes.txt", "# \n\nSuperior is large.")[0] == "Great Lakes"


def test_a_heading_below_the_first_paragraph_is_no_title() -> None:
    title, lead = title_and_lead(ID_NAME, "Intro sentence. More.\n\n# Later heading\n")
    assert title == "" and lead == "Intro sentence."


def test_empty_text_has_neither_title_nor_lead() -> None:
    assert title_and_lead(ID_NAME, "") == ("", "")
    assert title_and_lead(ID_NAME, "  \n\n \n") == ("", "")


def test_a_given_title_is_used_as_it_is() -> None:
    assert readable_title(ID_NAME, "# Heading\n\nBody.", "Given Title") == "Given Title"


def test_readable_title_prefers_the_heading_then_the_file_name() -> None:
    assert readable_title("Great_Lakes.txt", "# Superior\n\nBody.") == "Superior"
    assert readable_title("Great_Lakes.txt", "A first line.\nBody.") == "Great Lakes"


def test_a_first_line_of_exactly_the_limit_is_the_title() -> None:
    line = "x" * (TITLE_MAX - 5) + " abcd"
    assert len(line) == TITLE_MAX
    assert readable_title(ID_NAME, line + "\nMore text.") == line


def test_a_first_line_over_the_limit_gives_way_to_a_short_lead() -> None:
    text = "Etna erupts. " + "Its lava flows have shaped the farmland around it for centuries. " * 2
    assert readable_title(ID_NAME, text) == "Etna erupts."


def test_a_long_lead_is_cut_at_a_word_with_an_ellipsis() -> None:
    lead = "The Danube flows through ten countries before reaching the Black Sea with its barges."
    title = readable_title(ID_NAME, lead)
    assert title.endswith("…") and len(title) <= TITLE_MAX + 1
    kept = title[:-1]
    # A prefix of the lead that ends where a word ends.
    assert lead.startswith(kept) and lead[len(kept)] == " "


def test_a_cut_title_does_not_end_in_a_comma_or_colon() -> None:
    lead = "A" * 50 + " kappa, lambdalambdalambda and more words to make it long."
    assert readable_title(ID_NAME, lead) == "A" * 50 + " kappa…"


def test_empty_text_has_an_empty_readable_title() -> None:
    assert readable_title(ID_NAME, "") == ""
    assert readable_title(ID_NAME, " \n \n") == ""


def test_a_line_of_marks_alone_is_an_empty_heading_as_commonmark_says() -> None:
    # CommonMark ends an ATX heading's marks with a space, a tab or the end of the line.
    assert heading("#") == (1, "")
    assert heading("###") == (3, "")


def test_long_lines_are_matched_in_linear_time() -> None:
    # A lazy title before optional blanks and marks once took cubic time on such lines.
    for line in ("# a" + " " * 100_000 + "x", "# a" + "#" * 100_000 + " x", "#" + " " * 100_000 + "\nx"):
        found = heading(line)
        assert found is None or found[1].startswith("a")


def test_an_empty_heading_is_neither_the_lead_nor_the_readable_title() -> None:
    # Paragraphs are trimmed: the empty heading "# " is the paragraph "#", still a heading.
    text = "# \n\nThe Corner Bakery opened in 1952. More."
    assert title_and_lead(ID_NAME, text) == ("", "The Corner Bakery opened in 1952.")
    assert readable_title(ID_NAME, text) == "The Corner Bakery opened in 1952. More."  # a short first line
