"""Turning text into vectors: the embedder protocol, the sentence-transformers model and its ONNX export.

Imports nothing of the package above :mod:`qa.config` and :mod:`qa.errors`.
"""
