"""Keyword terms (qa.text.terms): stemming and stop words, question words, stem families, and threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from qa.text.terms import FAMILY, QUESTION_WORDS, key_terms, shared, terms_of, tokens


def test_no_texts_give_no_term_lists() -> None:
    assert terms_of([]) == []
    assert terms_of(()) == []


def test_each_text_gets_its_own_list_in_order_even_an_empty_one() -> None:
    texts = ["Lava flows", "", "the and of", "Barges carry grain"]
    result = terms_of(texts)
    assert len(result) == len(texts)
    # Empty text and text made only of stop words have no terms, but keep their place.
    assert result[1] == [] and result[2] == []
    assert result[0] == tokens("Lava flows") and result[3] == tokens("Barges carry grain")


def test_terms_are_lower_case_snowball_stems_without_stop_words() -> None:
    # Snowball (English): "running" -> "run", "directors" -> "director", "films" -> "film".
    assert tokens("The RUNNING directors of the films") == ["run", "director", "film"]


def test_case_and_inflection_do_not_change_the_terms() -> None:
    assert tokens("Eruptions") == tokens("eruption") == tokens("ERUPTION")


def test_tokens_of_one_text_are_what_terms_of_gives_for_it() -> None:
    text = "Scientists at the Etna Observatory measure gas emissions every day."
    assert tokens(text) == terms_of([text])[0]
    assert "the" not in tokens(text) and "at" not in tokens(text)


def test_repeated_words_are_kept_as_often_as_written() -> None:
    # BM25 counts term frequency: repeats must not be folded.
    assert tokens("lava lava lava") == ["lava", "lava", "lava"]


def test_key_terms_leave_out_the_words_that_ask() -> None:
    assert key_terms("Who directs the films?") == {"direct", "film"}
    assert key_terms("Where and when is Etna erupting?") == {"etna", "erupt"}


def test_a_question_of_question_words_only_has_no_key_terms() -> None:
    assert key_terms("Who? What? When? Where? How?") == set()


def test_every_question_word_is_left_out_of_key_terms_even_when_stemmed() -> None:
    # Terms are stems: "why" is "whi", which must go as well.
    kept = {word: key_terms(word) for word in sorted(QUESTION_WORDS) if key_terms(word)}
    assert kept == {}


def test_shared_counts_exact_terms() -> None:
    assert shared({"etna", "lava"}, {"lava", "etna", "sicili"}) == 2
    assert shared({"etna"}, {"lava"}) == 0


def test_shared_counts_a_stem_family_in_either_direction() -> None:
    # The term starts the word ...
    assert shared({"direct"}, {"director"}) == 1
    # ... or the word starts the term.
    assert shared({"director"}, {"direct"}) == 1


def test_short_stems_never_start_a_family() -> None:
    short = "a" * (FAMILY - 1)
    assert shared({short}, {short + "xyz"}) == 0
    assert shared({short + "xyz"}, {short}) == 0
    # A stem of exactly FAMILY characters does.
    assert shared({"a" * FAMILY}, {"a" * FAMILY + "xyz"}) == 1


def test_a_family_needs_both_stems_long_enough() -> None:
    # "film" is shorter than FAMILY: "films" is not of its family; "direct" and "director" are.
    assert shared({"film", "direct", "etna"}, {"films", "director"}) == 1


def test_each_term_counts_once_however_many_words_match_it() -> None:
    assert shared({"direct"}, {"direct", "director", "direction"}) == 1


def test_nothing_is_shared_with_empty_sets() -> None:
    assert shared(set(), {"lava"}) == 0
    assert shared({"lava"}, set()) == 0


def test_threads_tokenising_at_once_get_the_same_terms_as_one_thread() -> None:
    texts = [f"Running directors {n} measured eruptions and lava flows of Etna" for n in range(200)]
    expected = [tokens(text) for text in texts]
    start = threading.Barrier(8)

    def work(offset: int) -> list[list[str]]:
        start.wait()
        return [tokens(texts[(offset + n) % len(texts)]) for n in range(len(texts))]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    for offset, result in enumerate(results):
        assert result == [expected[(offset + n) % len(texts)] for n in range(len(texts))]


def test_each_thread_has_its_own_stemmer() -> None:
    from qa.text import terms

    here = terms._stemmer()
    assert terms._stemmer() is here
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(terms._stemmer()))
    thread.start()
    thread.join()
    assert seen and seen[0] is not here
