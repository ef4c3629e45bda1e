"""Ranking passages for a question: the checked request, dense and keyword scores, fusion, duplicates, follow-ups.

Reads a committed state through :mod:`qa.store`; embeds questions with :mod:`qa.embed`.
Decides nothing about answering: that is :mod:`qa.answer`.
"""
