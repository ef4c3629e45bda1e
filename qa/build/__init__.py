"""What a build computes before anything is stored: each changed file read, split into passages, embedded.

Two backends do it the same way: this process (:mod:`qa.build.backend`) or a Ray cluster
(:mod:`qa.build.cluster`). Imports :mod:`qa.text`, :mod:`qa.ingest` and :mod:`qa.embed`; the
store (:mod:`qa.store.writer`) calls it and commits what it returns.
"""
