"""Turning a ranking into an answer: whether it answers (the calibrated decision), which quotes, which sentences.

Every quote is checked against its file before it is shown. Reads :mod:`qa.search`'s
rankings; reads files through :mod:`qa.ingest`. May import every layer up to
:mod:`qa.search`; nothing above (:mod:`qa.update`, :mod:`qa.index` and the faces call it).
"""
