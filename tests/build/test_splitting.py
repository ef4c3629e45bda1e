"""What a build stores for a document: passage rows, windows, sentences, keyword terms and the texts to embed."""

from __future__ import annotations

from fakes import FakeEmbedder

import qa
from qa.build.splitting import MAX_SENTENCES, SENTENCE_CHARS, split_document, vector_key
from qa.text.passages import make_document

TEXT = (
    "# The Corner Bakery\n\n"
    "The Corner Bakery opened in 1952. It is famous for its sourdough bread.\n\n"
    "Maria Rossi trains apprentices."
)


def test_every_passage_gets_a_row_with_its_windows_terms_sketch_and_sentences() -> None:
    fake = FakeEmbedder()
    split = split_document(make_document("bakery.md", TEXT), fake, qa.Settings())
    assert [row.passage.paragraph for row in split.passages] == [1, 2, 3]
    two = split.passages[1]
    assert two.windows == ((0, len(two.passage.text)),) and len(two.hashes) == 1
    # Two sentences: each is embedded on its own; a one-sentence paragraph has none of its own.
    assert [two.passage.text[s:e] for s, e in two.sentences] == [
        "The Corner Bakery opened in 1952.",
        "It is famous for its sourdough bread.",
    ]
    assert split.passages[2].sentences == () and split.passages[2].sentence_hashes == ()
    # The keyword terms are stemmed, with the article's title in front.
    assert "sourdough" in two.terms.split() and "bakeri" in two.terms.split()
    assert two.term_count == len(two.terms.split()) and len(two.sketch) == 256
    texts = dict(split.texts)
    assert texts[two.hashes[0]] == two.passage.text
    assert texts[two.sentence_hashes[1]] == "It is famous for its sourdough bread."


def test_vector_keys_belong_to_a_model_and_a_text() -> None:
    assert vector_key("a", "text") == vector_key("a", "text")
    assert vector_key("a", "text") != vector_key("b", "text") != vector_key("a", "other")
    rows = split_document(make_document("x.txt", TEXT), FakeEmbedder(name="m1"), qa.Settings()).passages
    again = split_document(make_document("x.txt", TEXT), FakeEmbedder(name="m2"), qa.Settings()).passages
    assert rows[1].hashes != again[1].hashes


def test_a_long_paragraph_is_embedded_in_overlapping_windows_that_cover_it() -> None:
    words = " ".join(f"w{n}" for n in range(100))
    split = split_document(make_document("long.txt", words), FakeEmbedder(max_tokens=20), qa.Settings(window_overlap=4))
    row = split.passages[0]
    assert split.windowed == 1 and len(row.windows) > 1
    assert row.windows[0][0] == 0 and row.windows[-1][1] == len(words)
    assert all(b[0] < a[1] for a, b in zip(row.windows, row.windows[1:], strict=False)), "windows overlap"


def test_settings_choose_sentences_title_terms_and_context() -> None:
    document = make_document("bakery.md", TEXT)
    lean = split_document(document, FakeEmbedder(), qa.Settings(sentences=False, lexical_title=False))
    assert all(row.sentences == () for row in lean.passages)
    assert "bakeri" not in lean.passages[2].terms.split()
    context = split_document(document, FakeEmbedder(), qa.Settings(context=True))
    embedded = dict(context.texts)[context.passages[2].hashes[0]]
    assert embedded.startswith("The Corner Bakery") and embedded.endswith("Maria Rossi trains apprentices.")


def test_a_huge_paragraph_embeds_a_bounded_number_of_bounded_sentences() -> None:
    huge = " ".join(f"Sentence number {n} is about the harbour." for n in range(200)) + " " + "x" * 5000 + "."
    row = split_document(make_document("huge.txt", huge), FakeEmbedder(), qa.Settings()).passages[0]
    assert len(row.sentences) == MAX_SENTENCES
    long_sentence = "Alpha. Y" + "y" * 9000 + "."
    texts = dict(split_document(make_document("h.txt", long_sentence), FakeEmbedder(), qa.Settings()).texts)
    assert max(len(t) for t in texts.values() if t.startswith("Yy")) == SENTENCE_CHARS
