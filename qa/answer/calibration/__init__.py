"""Answerability calibrations: one JSON file per embedding model, plus ``generic.json``."""
