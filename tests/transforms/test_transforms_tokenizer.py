import os

import pytest

from _transforms_testlib import make_corpus, sp, sp_model_path  # noqa: F401 (fixtures)
from transforms.tokenizer import (default_vocab_size, load_processor, model_sha256,
                                  prepare_corpus, tokenize, train_sentencepiece)


def test_tokenize_normalises_and_is_deterministic(sp):
    a = tokenize(sp, "【公式】格安ＳＩＭが今だけ半額！")
    assert a == tokenize(sp, "【公式】格安SIMが今だけ半額!")
    assert "".join(a) == "【公式】格安SIMが今だけ半額!"
    assert tokenize(sp, "") == [] and tokenize(sp, "\u3000 ") == []


def test_learns_subwords(sp):
    pieces = tokenize(sp, "送料無料でお届け")
    assert any(len(p) > 1 for p in pieces)


def test_training_is_deterministic_and_atomic(tmp_path):
    corpus = make_corpus(300, seed=3)
    a = train_sentencepiece(corpus, str(tmp_path / "a.model"))
    b = train_sentencepiece(list(reversed(corpus)), str(tmp_path / "sub" / "b.model"))
    assert model_sha256(a) == model_sha256(b)
    assert sorted(os.listdir(tmp_path)) == ["a.model", "sub"]  # no temp files left behind


def test_tiny_corpus_trains(tmp_path):
    corpus = make_corpus(50, seed=4)
    path = train_sentencepiece(corpus, str(tmp_path / "t.model"))
    sp = load_processor(path)
    assert tokenize(sp, corpus[0])


def test_vocab_size_sizing():
    assert default_vocab_size(["ab"]) == 64
    big = prepare_corpus(chr(0x4E00 + i) for i in range(5000))
    assert default_vocab_size(big) >= 5000 + 3  # never below what training needs


def test_empty_corpus_rejected(tmp_path):
    with pytest.raises(ValueError):
        train_sentencepiece(["", "  "], str(tmp_path / "x.model"))
