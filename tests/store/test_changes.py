"""The one change detector: size and time first, then the hash of the bytes."""

from __future__ import annotations

from qa.ingest.sources import Signature
from qa.store.changes import CorpusChanges, IndexedFile, confirm, diff

INDEXED = {
    "same.txt": IndexedFile(10, 100, "h-same", None),
    "touched.txt": IndexedFile(10, 100, "h-touched", None),
    "edited.txt": IndexedFile(10, 100, "h-old", None),
    "gone.txt": IndexedFile(5, 50, "h-gone", None),
    "skipped.pdf": IndexedFile(-1, 0, "skipped: encrypted PDF", "encrypted PDF"),
}
CURRENT = {
    "same.txt": Signature(10, 100),
    "touched.txt": Signature(10, 200),
    "edited.txt": Signature(12, 300),
    "new.txt": Signature(3, 30),
    "skipped.pdf": Signature(-1, 0),
}


def test_size_and_time_find_added_removed_and_maybe_changed_files() -> None:
    changes = diff(INDEXED, CURRENT)
    assert changes == CorpusChanges(added=("new.txt",), removed=("gone.txt",), changed=("edited.txt", "touched.txt"))
    assert len(changes) == 4 and changes


def test_a_file_is_edited_only_if_its_bytes_hash_differently() -> None:
    read: list[str] = []

    def sha256(name: str) -> str:
        read.append(name)
        return {"touched.txt": "h-touched", "edited.txt": "h-new"}[name]

    changes = confirm(diff(INDEXED, CURRENT), INDEXED, sha256)
    assert changes.changed == ("edited.txt",) and changes.added == ("new.txt",)
    # Only the files whose size or time changed are read.
    assert sorted(read) == ["edited.txt", "touched.txt"]


def test_nothing_changed_is_false_and_said_so() -> None:
    unchanged = diff(INDEXED, {name: Signature(f.size, f.mtime_ns) for name, f in INDEXED.items()})
    assert not unchanged and len(unchanged) == 0
    assert unchanged.describe() == "no changes"


def test_the_description_names_a_few_files_and_counts_the_rest() -> None:
    changes = CorpusChanges(added=tuple(f"{n}.txt" for n in range(5)), removed=("old.txt",))
    assert changes.describe() == "5 files added (0.txt, 1.txt, 2.txt and 2 more); 1 file removed (old.txt)"
