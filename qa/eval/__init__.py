"""Measuring the bot: questions with known answers (files, BEIR data sets, votes on quotes) and ranking metrics.

Above the faces: it asks an :class:`qa.index.Index` as a program would.
"""
