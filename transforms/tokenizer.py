"""SentencePiece (unigram) tokenizer trained on the advertiser corpus.

The model file travels inside the model bundle, so training and scoring tokenise identically.
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
from typing import Iterable

import sentencepiece as spm

from transforms.text import normalize

# Bump when normalisation or the trainer settings change: a tokenizer trained by other code
# splits text differently, so model bundles record this and refuse a mismatch.
# 2: normalize() reads Google Ads customizers as their default text.
TOKENIZER_VERSION = "2"

MIN_VOCAB_SIZE = 64
MAX_VOCAB_SIZE = 8000
# unk, <s>, </s> plus a little slack: the unigram trainer refuses a vocabulary smaller than
# the characters it must keep plus its meta pieces.
_META_SLACK = 8
_SEED = 20240101


def prepare_corpus(texts: Iterable[str]) -> list[str]:
    """Normalised, non-empty, de-duplicated, sorted (so training input order never matters)."""
    return sorted({t for t in (normalize(x) for x in texts) if t})


def default_vocab_size(corpus: list[str]) -> int:
    """Twice the distinct characters, clamped to [64, 8000], never below what training needs.

    ~50 texts give a few hundred pieces (mostly characters); ~5,000 Japanese ad lines have
    ~1-2k distinct characters, leaving room for as many multi-character subwords.
    """
    n_chars = len({ch for t in corpus for ch in t if not ch.isspace()})
    size = min(max(2 * n_chars + 16, MIN_VOCAB_SIZE), MAX_VOCAB_SIZE)
    return max(size, n_chars + _META_SLACK)


def train_sentencepiece(texts: Iterable[str], out_path: str, vocab_size: int | None = None) -> str:
    """Train a unigram model on normalised texts; write it atomically to out_path; return out_path."""
    corpus = prepare_corpus(texts)
    if not corpus:
        raise ValueError("train_sentencepiece: no non-empty text to train on")
    if vocab_size is None:
        vocab_size = default_vocab_size(corpus)
    spm.set_random_generator_seed(_SEED)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=buf,
        model_type="unigram",
        vocab_size=int(vocab_size),
        # We normalise ourselves (normalize()); the model must not apply a second, different one.
        normalization_rule_name="identity",
        add_dummy_prefix=False,  # Japanese has no word spaces; a leading ▁ piece carries nothing
        character_coverage=0.9995,
        hard_vocab_limit=False,  # a small corpus may not support vocab_size pieces
        num_threads=1,  # deterministic output
        minloglevel=2,
    )
    _atomic_write(out_path, buf.getvalue())
    return out_path


def _atomic_write(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".model")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_processor(model_path: str) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_file=str(model_path))


def tokenize(sp: spm.SentencePieceProcessor, text: str) -> list[str]:
    """Pieces of normalize(text); [] for empty text."""
    t = normalize(text)
    if not t:
        return []
    return sp.encode(t, out_type=str)


def model_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
