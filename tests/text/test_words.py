"""Surface words (qa.text.words): written words with inner apostrophes and hyphens, plain words, hyphen chains."""

from __future__ import annotations

from qa.text.words import HYPHENATED, WORD, written_words


def test_written_words_keep_inner_apostrophes_and_hyphens() -> None:
    text = "What's Al-Hashimi's view of rock-and-roll? O’Brien’s."
    assert written_words(text) == ["What's", "Al-Hashimi's", "view", "of", "rock-and-roll", "O’Brien’s"]


def test_written_words_come_in_order_with_repeats() -> None:
    assert written_words("Etna, Etna; and Etna!") == ["Etna", "Etna", "and", "Etna"]


def test_written_words_take_letters_of_any_script_and_digits() -> None:
    assert written_words("Zürich naïve 42nd 1952 Δέλτα") == ["Zürich", "naïve", "42nd", "1952", "Δέλτα"]


def test_text_without_words_has_none() -> None:
    assert written_words("") == []
    assert written_words(" ,.;:!? -- '' ") == []


def test_a_written_word_never_starts_with_an_apostrophe_or_hyphen() -> None:
    assert written_words("-dash 'quoted ’curly") == ["dash", "quoted", "curly"]


def test_a_trailing_apostrophe_or_hyphen_is_not_part_of_a_written_word() -> None:
    # A closing quote or a dangling hyphen is no part of the word: follow-ups would carry "Rhine'".
    assert written_words("and the 'Rhine'?") == ["and", "the", "Rhine"]
    assert written_words("the Beatles' songs, pre- and post-war") == [
        "the",
        "Beatles",
        "songs",
        "pre",
        "and",
        "post-war",
    ]


def test_plain_words_split_at_apostrophes_and_hyphens() -> None:
    assert WORD.findall("don't black-and-white") == ["don", "t", "black", "and", "white"]


def test_plain_words_hold_underscores_and_digits() -> None:
    assert WORD.findall("snake_case 3rd") == ["snake_case", "3rd"]


def test_hyphen_chains_are_one_match() -> None:
    assert HYPHENATED.findall("a black-and-white film") == ["a", "black-and-white", "film"]


def test_a_line_end_hyphen_is_left_out_of_the_chain() -> None:
    # "well-" at the end of a PDF line: the hyphen joins nothing on this line.
    assert HYPHENATED.findall("well-\nknown") == ["well", "known"]
    assert HYPHENATED.fullmatch("well-") is None


def test_a_double_hyphen_breaks_the_chain() -> None:
    assert HYPHENATED.findall("dash--separated") == ["dash", "separated"]
