"""What a search returns (qa.search.hits): citations on one line, hits that read through to their passage."""

from __future__ import annotations

import dataclasses
import unicodedata

import pytest

from qa.search.hits import Evidence, Hit, Ranking, citation
from qa.text.passages import Passage, text_sha256

TEXT = "The Danube flows through ten countries.\nIt reaches the Black Sea."


def passage(source: str = "nested/rivers.txt", **changes: object) -> Passage:
    values: dict[str, object] = {
        "source": source,
        "paragraph": 2,
        "start_line": 4,
        "end_line": 5,
        "start_char": 40,
        "end_char": 40 + len(TEXT),
        "text": TEXT,
        "sha256": text_sha256(TEXT),
    }
    return Passage(**{**values, **changes})  # type: ignore[arg-type]


def test_a_citation_is_the_label_the_source_and_its_place() -> None:
    assert citation("seeds", passage()) == "seeds/nested/rivers.txt ¶2 (lines 4-5)"
    assert citation("seeds", passage(end_line=4)) == "seeds/nested/rivers.txt ¶2 (line 4)"


def test_a_label_with_a_trailing_slash_gives_one_slash_and_no_label_gives_the_bare_source() -> None:
    assert citation("seeds//", passage()) == "seeds/nested/rivers.txt ¶2 (lines 4-5)"
    assert citation("", passage()) == "nested/rivers.txt ¶2 (lines 4-5)"


@pytest.mark.parametrize(
    ("name", "written"),
    [("tab\there.txt", "tab\\x09here.txt"), ("del\x7f.txt", "del\\x7f.txt"), ("c1\x85\x9b.txt", "c1\\x85\\x9b.txt")],
    ids=["C0", "DEL", "C1"],
)
def test_control_characters_in_a_file_name_are_written_as_hex_escapes(name: str, written: str) -> None:
    cited = citation("seeds", passage(name))
    assert cited == f"seeds/{written} ¶2 (lines 4-5)"
    assert cited.isprintable()


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("\u202egnp.exe.txt", "\\u202egnp.exe.txt"),
        ("a\u2066b\u2069.txt", "a\\u2066b\\u2069.txt"),
        ("\u200fmark\u200e.txt", "\\u200fmark\\u200e.txt"),
        ("zero\u200bwidth\ufeff.txt", "zero\\u200bwidth\\ufeff.txt"),
        ("soft\u00adhyphen.txt", "soft\\xadhyphen.txt"),
    ],
    ids=["right-to-left override", "isolates", "marks", "zero-width and BOM", "soft hyphen"],
)
def test_direction_changing_and_invisible_characters_of_a_file_name_are_escaped(name: str, written: str) -> None:
    cited = citation("seeds", passage(name))
    assert cited == f"seeds/{written} ¶2 (lines 4-5)"
    # Nothing in it reorders or hides text: every character is visible and left-to-right neutral.
    assert all(unicodedata.category(c) != "Cf" for c in cited)


def test_joiners_of_emoji_and_words_are_kept() -> None:
    name = "team \U0001f469\u200d\U0001f4bb and \u0645\u06cc\u200c\u0634\u0648\u062f.txt"
    assert citation("", passage(name)).startswith(name + " ")


def test_other_characters_of_a_file_name_are_kept_as_they_are() -> None:
    name = "Études/café ¶ naïve – 東京.txt"
    assert citation("", passage(name)).startswith(name + " ")


def test_control_characters_in_the_section_are_escaped_too() -> None:
    cited = citation("", passage("a.md", section="Line\nbreak"))
    assert cited == "a.md ¶2 (lines 4-5), section “Line\\x0abreak”"


def test_a_hit_reads_through_to_its_passage_which_keeps_the_real_file_name() -> None:
    cited = passage("odd\nname.txt")
    found = Hit(cited, 0.8, 1, citation("seeds", cited))
    assert (found.source, found.paragraph, found.start_line, found.end_line) == ("odd\nname.txt", 2, 4, 5)
    assert (found.start_char, found.end_char, found.text) == (40, 40 + len(TEXT), TEXT)
    assert "\n" not in found.citation


def test_a_hit_computed_by_one_retriever_only_has_no_score_from_the_other_and_no_copies() -> None:
    found = Hit(passage(), 3.2, 1, "c")
    assert (found.dense_score, found.lexical_score, found.also_in, found.duplicates) == (None, None, (), ())
    assert found.passage_id == -1


def test_hits_compare_by_what_they_show_not_by_their_row_id() -> None:
    shown = Hit(passage(), 0.8, 1, "c", passage_id=7)
    assert shown == dataclasses.replace(shown, passage_id=99)
    assert shown != dataclasses.replace(shown, rank=2)
    # The copies and the row id stay out of the one-line repr.
    copies = dataclasses.replace(shown, duplicates=(passage("copy.txt"),))
    assert "copy.txt" not in repr(copies) and "passage_id" not in repr(copies)


def test_hits_evidence_and_rankings_cannot_be_changed() -> None:
    found = Hit(passage(), 0.8, 1, "c")
    evidence = Evidence(0.7, 0.1, 0.75, 0.5, 0.9, 0.8, 6)
    ranking = Ranking((found,), 0.7, None, evidence)
    for value, name in [(found, "score"), (evidence, "margin"), (ranking, "best_cosine")]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, name, 0.0)
