"""Text rules with no I/O: lines, sentences, paragraphs, passages, titles, keyword terms, word sketches.

The lowest layer: it imports nothing of the package but :mod:`qa.errors` and :mod:`qa.config`.
"""
