"""The index on disk: one SQLite database (all SQL lives in this package), a frozen FAISS file and keyword segments.

Writers (:mod:`qa.store.writer`) find what changed and commit it in transactions; readers
(:mod:`qa.store.snapshot`) see one committed state. Imports :mod:`qa.text`, :mod:`qa.ingest`,
:mod:`qa.embed` and :mod:`qa.build`; nothing above.
"""
