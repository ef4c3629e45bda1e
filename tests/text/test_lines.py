"""The one line-break rule: CRLF, a bare CR and LF each end one line."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from qa.text.lines import line_breaks, line_spans, split_lines


def test_each_kind_of_break_counts_once() -> None:
    text = "a\r\nb\rc\nd"
    assert line_breaks(text) == 3
    assert split_lines(text) == ["a", "b", "c", "d"]
    assert line_spans(text) == [(0, 1), (3, 4), (5, 6), (7, 8)]


def test_a_final_break_opens_an_empty_line_and_an_empty_text_is_one_line() -> None:
    assert split_lines("a\n") == ["a", ""]
    assert split_lines("") == [""]
    assert line_breaks("") == 0


def test_breaks_are_counted_in_a_slice_without_splitting_a_crlf() -> None:
    text = "one\r\ntwo\r\nthree"
    assert line_breaks(text, 0, 5) == 1
    assert line_breaks(text, 5) == 1
    # A slice ending between CR and LF counts the CR as a break; the LF after it is then its pair.
    assert line_breaks(text, 0, 4) + line_breaks(text, 4, 5) == 2


@given(st.text(alphabet=st.sampled_from(["a", " ", "\r", "\n", "é"]), max_size=60))
def test_lines_and_breaks_agree_and_rebuild_the_text(text: str) -> None:
    spans = line_spans(text)
    assert len(spans) == line_breaks(text) + 1
    # What lies between two lines is exactly one break.
    gaps = [text[end:start] for (_, end), (start, _) in itertools.pairwise(spans)]
    assert all(gap in ("\r\n", "\r", "\n") for gap in gaps)
    assert "".join(text[s:e] + gap for (s, e), gap in zip(spans, [*gaps, ""], strict=True)) == text
