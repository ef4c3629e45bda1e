"""Measuring the bot: questions with known answers (files, BEIR data sets, votes on quotes) and ranking metrics.

It asks an :class:`qa.index.Index` as a program would: it may import the API
(:mod:`qa.index`, :mod:`qa.live`) and everything below it; never :mod:`qa.web` or
:mod:`qa.cli`, which call it.
"""
