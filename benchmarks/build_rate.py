"""Index build rate with the real model on 2 cores, against the raw encoder on the same texts.

Usage:
    python benchmarks/build_rate.py [--corpus benchmarks/data/squad/corpus] [--articles 8]

Run benchmarks/squad.py first to write the SQuAD corpus folder. In one process it times:
``SentenceTransformer.encode`` (PyTorch) of exactly the texts the index embeds, the
ONNX document path on the same texts (and their largest difference), a fresh build
(nothing reused), and an incremental one after one file is edited. The build rate is
reported as a share of the raw PyTorch encoder's rate. The sentences embedded on their
own (sentence-level evidence) are timed apart through the ONNX path: their time over the
paragraphs' is the build-time factor that evidence costs.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from common import save_json

import qa
from qa.build.splitting import embedding_inputs, sentence_inputs
from qa.embed.embedder import SentenceTransformerEmbedder

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=HERE / "data" / "squad" / "corpus")
    parser.add_argument("--articles", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for path in sorted(args.corpus.glob("*.txt"))[: args.articles]:
            shutil.copy(path, corpus / path.name)
        embedder = SentenceTransformerEmbedder()
        settings = qa.Settings()
        texts = [
            text
            for document in qa.read_corpus(corpus).documents
            for passage in qa.split_passages(document)
            for text in embedding_inputs(document, passage, embedder, settings)[1]
        ]
        paragraphs = set(texts)
        sentences = list(
            dict.fromkeys(
                text
                for document in qa.read_corpus(corpus).documents
                for passage in qa.split_passages(document)
                for text in sentence_inputs(passage)[1]
                if text not in paragraphs
            )
        )
        # Warm both paths up (model load, ONNX export) before any timing.
        embedder.encode(texts[:40], batch_size=settings.batch_size)
        embedder.encode_torch(texts[:40], batch_size=settings.batch_size)
        started = time.perf_counter()
        reference = embedder.encode_torch(texts, batch_size=settings.batch_size)
        raw = time.perf_counter() - started
        started = time.perf_counter()
        fast = embedder.encode(texts, batch_size=settings.batch_size)
        onnx = time.perf_counter() - started
        started = time.perf_counter()
        embedder.encode(sentences, batch_size=settings.batch_size)
        onnx_sentences = time.perf_counter() - started
        started = time.perf_counter()
        index = qa.build_index(corpus, Path(tmp) / "index", embedder=embedder)
        fresh = time.perf_counter() - started
        report = index.report
        assert report is not None and report.vectors == len(texts)
        edited = sorted(corpus.glob("*.txt"))[0]
        edited.write_text(edited.read_text(encoding="utf-8") + "\nA new closing paragraph.\n", encoding="utf-8")
        started = time.perf_counter()
        again = qa.build_index(corpus, Path(tmp) / "index", embedder=embedder)
        incremental = time.perf_counter() - started
        assert again.report is not None
    result = {
        "files": report.files,
        "paragraphs": report.passages,
        "vectors": report.vectors,
        "raw_pytorch_seconds": round(raw, 2),
        "raw_pytorch_vectors_per_s": round(len(texts) / raw, 2),
        "onnx_seconds": round(onnx, 2),
        "onnx_speedup": round(raw / onnx, 3),
        "onnx_max_abs_difference": float(np.abs(fast - reference).max()),
        "sentence_texts": len(sentences),
        "onnx_sentence_seconds": round(onnx_sentences, 2),
        "sentence_build_time_factor": round((onnx + onnx_sentences) / onnx, 3),
        "build_seconds": round(fresh, 2),
        "build_paragraphs_per_s": round(report.passages / fresh, 2),
        "build_share_of_raw_paragraph_rate": round((report.passages / fresh) / (report.passages / raw), 3),
        "incremental_seconds": round(incremental, 2),
        "incremental_embedded": again.report.embedded,
        "incremental_reused": again.report.reused,
    }
    print(result)
    save_json(HERE / "results" / "build_rate.json", result)


if __name__ == "__main__":
    main()
