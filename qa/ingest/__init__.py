"""Getting articles in: the corpus scan with its hostile-file checks, the readers of each format, sources.

Imports :mod:`qa.text` below it; nothing above.
"""
