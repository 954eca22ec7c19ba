"""Shared test data for tests/transforms (imported by basename; no conftest to avoid clashes)."""
from __future__ import annotations

import random

import pytest

PRODUCTS = ["格安SIM", "転職サイト", "英会話", "脱毛サロン", "ウォーターサーバー", "クレジットカード",
            "光回線", "プログラミングスクール", "保険", "ホテル予約"]
HEAD_TEMPLATES = [
    "【公式】{p}なら", "{p}が今だけ半額", "満足度No.1の{p}", "{p}｜送料無料", "月額{n}円から",
    "最大{k}%OFF", "人気の{p}ランキング", "{p}を今すぐ比較", "口コミで話題の{p}", "期間限定キャンペーン",
    "初月無料でお試し", "{p}の資料請求", "累計{k}万人が利用", "本日限定セール！", "ｶﾝﾀﾝ申し込み",
]
DESC_TEMPLATES = [
    "{p}なら月額{n}円から。今なら初期費用無料。詳しくは公式サイトでチェック！",
    "累計{k}万人が選んだ{p}。満足度No.1、口コミでも高評価です。",
    "【期間限定】{p}が最大{k}%OFF。残りわずか、お早めにお申し込みください。",
    "送料無料でお届け。{p}の人気ランキングを今すぐ比較できます。",
]


def make_corpus(n: int, seed: int = 0) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        tpl = rnd.choice(HEAD_TEMPLATES + DESC_TEMPLATES)
        out.append(tpl.format(p=rnd.choice(PRODUCTS), n=rnd.choice([980, 1980, 2980, 3480]),
                              k=rnd.choice([10, 30, 50, 70, 100])))
    return out


def make_pool(product: str = "格安SIM", n_h: int = 15, n_d: int = 4, seed: int = 1) -> list[dict]:
    """An ad-group pool of distinct headlines/descriptions within the width limits."""
    rnd = random.Random(seed)
    heads = [t.format(p=product, n=1980, k=50) for t in HEAD_TEMPLATES][:n_h]
    descs = [t.format(p=product, n=1980, k=50) for t in DESC_TEMPLATES][:n_d]
    assets = ([{"asset_id": f"H{i:02d}", "asset_type": "HEADLINE", "text": t, "pinned_field": ""}
               for i, t in enumerate(heads)]
              + [{"asset_id": f"D{i:02d}", "asset_type": "DESCRIPTION", "text": t, "pinned_field": ""}
                 for i, t in enumerate(descs)])
    rnd.shuffle(assets)  # input order must not matter
    return assets


@pytest.fixture(scope="session")
def sp_model_path(tmp_path_factory):
    from transforms.tokenizer import train_sentencepiece
    path = tmp_path_factory.mktemp("tok") / "tokenizer.model"
    return train_sentencepiece(make_corpus(600), str(path))


@pytest.fixture(scope="session")
def sp(sp_model_path):
    from transforms.tokenizer import load_processor
    return load_processor(sp_model_path)
