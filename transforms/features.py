"""Per-asset and per-combination features (pure numpy).

Design rule (DESIGN.md): every combination feature reads exactly one position or one pair of
positions. A model restricted to those groups is a sum of per-position and per-pair terms, which
the scorer exploits; a feature reading three positions (total width, global counts) breaks that.
Validity rules (width, pins, distinctness) live in the enumeration, not here.

Changing a formula below changes feature values without changing names: bump FEATURE_VERSION so
old model bundles are refused. The lexicons, patterns and constants are in the spec's fingerprint
themselves (feature_spec), so editing a word list refuses old bundles even when nobody bumps it.
"""
from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from transforms.text import HEADLINE_MAX_WIDTH, ad_width, char_class_counts, display_width, normalize
from transforms.tokenizer import tokenize

# 3: customizers read as their default text; raw_display_width counts them as Google does.
FEATURE_VERSION = "3"

N_HASH_BUCKETS = 16
WORD_BOUNDARY_PIECE = "\u2581"  # SentencePiece's ▁; alone it carries no content

_SHARE_CLASSES = ("hiragana", "katakana", "kanji", "latin", "digit")

# Lexicons are matched on normalize(text).casefold(), so write them NFKC-normalised, lower case.
LEXICONS: dict[str, tuple[str, ...]] = {
    "urgency": ("今だけ", "本日限定", "期間限定", "数量限定", "週末限定", "限定", "残りわずか", "残り僅か",
                "急げ", "今すぐ", "お早めに", "終了間近", "まもなく終了", "本日まで", "今月まで", "今週末まで",
                "今週まで", "締切", "先着", "ラストチャンス", "今なら", "早割", "直前割", "お見逃しなく"),
    "discount": ("off", "割引", "割安", "半額", "セール", "sale", "最大", "値下げ", "特価", "特別価格",
                 "お得", "クーポン", "還元", "激安", "格安", "キャッシュバック", "早割", "直前割", "ポイント",
                 "円引き", "割引き", "大幅"),
    "free_shipping": ("送料無料", "送料0円", "配送無料", "送料込", "返品無料", "交換無料", "翌日お届け",
                      "即日発送", "即日配送", "最短翌日", "即日開通", "最短即日"),
    "free": ("無料", "free", "無償", "タダ", "0円"),
    "social_proof": ("no.1", "no1", "ナンバーワン", "満足度", "累計", "人気", "ランキング", "1位",
                     "口コミ", "クチコミ", "評判", "実績", "選ばれ", "話題", "受賞", "高評価", "合格率",
                     "突破", "利用者", "掲載", "好評"),
    "cta": ("申し込み", "申込", "お申込み", "今すぐ", "詳しくは", "詳細はこちら", "こちら", "試す",
            "お試し", "予約", "購入", "資料請求", "登録", "相談", "見積", "問い合わせ", "問合せ",
            "チェック", "ダウンロード", "始める", "はじめる", "始めよう", "ご活用", "ご確認"),
    "official": ("公式", "official", "正規"),
}


def _alternation(terms: Sequence[str]) -> re.Pattern:
    # Longest first so "%off"/"期間限定" are counted once, not also as "off"/"限定".
    # (Ties in length in a fixed order: the pattern is the same in every process, whatever the hash seed.)
    return re.compile("|".join(re.escape(t) for t in sorted(set(terms), key=lambda t: (-len(t), t))))


_LEXICON_RE = {name: _alternation(terms) for name, terms in LEXICONS.items()}
# "0円" must not fire inside "100円".
_LEXICON_RE["free"] = re.compile(r"無料|free|無償|タダ|(?<![\d,])0円")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_PRICE_RE = re.compile(r"\d[\d,]*(?:\.\d+)?\s*(?:万|千|百)?\s*円|[¥\\]\s*\d")  # 1,980円 3万円 ¥500
_BRACKETS = frozenset("【】《》「」『』〈〉〔〕[]()<>{}〖〗≪≫")

# A market's reading of the lexicon, learnt from its delivery (models.term_weights) and stored in the
# model bundle: {category: {term: weight}}. A match counts its term's weight in lex_<category>
# instead of 1 (a term absent counts 1). None or {}: every match counts 1, the training set's values.
TermWeights = Mapping[str, Mapping[str, float]]


def term_count(weights: TermWeights | None) -> int:
    """How many terms carry a weight."""
    return sum(len(terms) for terms in (weights or {}).values())


def lexicon_matches(text_low: str) -> dict[str, list[str]]:
    """Each lexicon category's matched terms in a normalised, case-folded text (what lex_* count)."""
    return {name: _LEXICON_RE[name].findall(text_low) for name in LEXICONS}


APPEALS = ("urgency", "discount", "free_shipping", "free", "social_proof", "cta")

ASSET_FEATURE_NAMES: list[str] = (
    ["is_empty", "n_chars", "display_width", "width_ratio", "raw_display_width"]
    + [f"n_{c}" for c in ("hiragana", "katakana", "kanji", "latin", "digit", "symbol", "space")]
    + [f"share_{c}" for c in _SHARE_CLASSES]
    + ["has_number", "has_price", "has_percent", "has_bracket", "n_exclamation", "has_question"]
    + [f"lex_{name}" for name in LEXICONS]
    + ["n_appeals", "keyword_match", "keyword_token_share", "n_tokens"]
    + [f"tok_hash_{i:02d}" for i in range(N_HASH_BUCKETS)]
)
_COL = {name: i for i, name in enumerate(ASSET_FEATURE_NAMES)}
_APPEAL_COLS = [_COL[f"lex_{a}"] for a in APPEALS]

HEADLINE_PREFIXES = ("h1", "h2", "h3")
DESCRIPTION_PREFIXES = ("d1", "d2")
# Pair order is part of the feature spec: headline pairs, description pair, headline x description.
HH_PAIRS = ((0, 1), (0, 2), (1, 2))
DD_PAIRS = ((0, 1),)
HD_PAIRS = tuple((h, d) for h in range(3) for d in range(2))
# Every pair feature reads exactly the two texts of its pair (never a third position):
# jaccard            SentencePiece-token Jaccard of the two texts
# char_bigram_jaccard  Jaccard of character bigrams (letters/digits only): near-duplicate wording
# shared_tokens      number of content tokens the two texts repeat
# shared_number      1 when both mention the same number (the same price twice)
# shared_appeals     appeal categories (urgency, discount, ...) both texts use: diminishing returns
# keyword_coverage   share of the keyword's words found in either text
# width_sum          display width of both texts as submitted (a pairwise "total width")
PAIR_FEATURES = ("jaccard", "char_bigram_jaccard", "shared_tokens", "shared_number", "shared_appeals",
                 "keyword_coverage", "width_sum")


def _pair_names() -> list[str]:
    pairs = ([(f"h{a+1}", f"h{b+1}") for a, b in HH_PAIRS]
             + [(f"d{a+1}", f"d{b+1}") for a, b in DD_PAIRS]
             + [(f"h{h+1}", f"d{d+1}") for h, d in HD_PAIRS])
    return [f"{a}_{b}__{f}" for a, b in pairs for f in PAIR_FEATURES]


COMBINATION_FEATURE_NAMES: list[str] = (
    [f"{p}__{n}" for p in HEADLINE_PREFIXES + DESCRIPTION_PREFIXES for n in ASSET_FEATURE_NAMES]
    + _pair_names()
)


def _value_tables() -> dict:
    """What feature values are read with besides the formulas: a model trained on other tables would
    be scored on features that mean something else, with nothing to say so."""
    return {
        "lexicons": {name: sorted(set(terms)) for name, terms in LEXICONS.items()},
        "patterns": [_LEXICON_RE["free"].pattern, _NUMBER_RE.pattern, _PRICE_RE.pattern],
        "brackets": "".join(sorted(_BRACKETS)),
        "hash_buckets": N_HASH_BUCKETS,
        "widths": [HEADLINE_MAX_WIDTH],
    }


def feature_spec() -> dict:
    payload = json.dumps({"version": FEATURE_VERSION, "names": COMBINATION_FEATURE_NAMES, **_value_tables()},
                         ensure_ascii=False, separators=(",", ":"))
    return {
        "version": FEATURE_VERSION,
        "names": list(COMBINATION_FEATURE_NAMES),
        "fingerprint": hashlib.sha256(payload.encode("utf-8")).hexdigest(),
    }


@dataclass
class AssetBlock:
    """Features of a list of assets; row i describes texts[i] whatever else is in the list.

    Besides the feature rows, the sets the pairwise features need (they compare two texts, so
    they cannot be a per-asset column). Blocks built without the optional sets share nothing.
    """
    feats: np.ndarray  # (n, len(ASSET_FEATURE_NAMES)) float32
    token_sets: list[frozenset[str]]
    # Numbers mentioned in each text, for the pairwise "shared_number" feature.
    number_sets: list[frozenset[str]] = field(default_factory=list)
    # Character bigrams of the letters and digits of each text ("char_bigram_jaccard").
    bigram_sets: list[frozenset[str]] = field(default_factory=list)
    # Indexes of the keyword's words found in each text, and the keyword's word count.
    keyword_sets: list[frozenset[int]] = field(default_factory=list)
    n_keyword_words: int = 0

    def __len__(self) -> int:
        return int(self.feats.shape[0])


def _content_pieces(pieces: list[str]) -> list[str]:
    return [p for p in pieces if p != WORD_BOUNDARY_PIECE]


def _hash_bucket(piece: str) -> int:
    # crc32 is stable across processes; Python's hash() is salted per process.
    return zlib.crc32(piece.encode("utf-8")) % N_HASH_BUCKETS


def _keyword_words(keyword: str) -> list[str]:
    return normalize(keyword).casefold().split()


_NON_CONTENT_RE = re.compile(r"[\W_]+")


def char_bigrams(text_norm: str) -> frozenset[str]:
    """Bigrams of a normalised text's letters and digits (symbols and spaces are not wording)."""
    t = _NON_CONTENT_RE.sub("", text_norm.casefold())
    return frozenset(t[i:i + 2] for i in range(len(t) - 1))


def asset_feature_row(text: str, keyword_norm: str, keyword_words: list[str],
                      pieces: list[str], raw_width: int | None = None,
                      term_weights: TermWeights | None = None) -> list[float]:
    """One row of ASSET_FEATURE_NAMES for a normalised text and its SentencePiece pieces.

    raw_width is the display width of the text as submitted and counted by the platform (NFKC folds
    a full-width ３, width 2, to 3, width 1; customizers count their default text): ad_width. It
    defaults to the normalised width. term_weights: lex_* count each match by its term's weight;
    n_appeals counts the appeal categories with a match whatever their weights.
    """
    t = text
    low = t.casefold()
    n = len(t)
    width = display_width(t)
    cc = char_class_counts(t)
    denom = max(n, 1)
    content = _content_pieces(pieces)
    buckets = [0.0] * N_HASH_BUCKETS
    for p in content:
        buckets[_hash_bucket(p)] += 1.0
    if content:
        buckets = [b / len(content) for b in buckets]
    matches = lexicon_matches(low)
    appeals = sum(1.0 for name in APPEALS if matches[name])
    if term_weights:
        lex = [float(sum(term_weights.get(name, {}).get(m, 1.0) for m in matches[name])) for name in LEXICONS]
    else:
        lex = [float(len(matches[name])) for name in LEXICONS]
    row = [
        float(n == 0), float(n), float(width), width / HEADLINE_MAX_WIDTH,
        float(width if raw_width is None else raw_width),
        *(float(cc[c]) for c in ("hiragana", "katakana", "kanji", "latin", "digit", "symbol", "space")),
        *(cc[c] / denom for c in _SHARE_CLASSES),
        float(_NUMBER_RE.search(t) is not None),
        float(_PRICE_RE.search(t) is not None),
        float("%" in t),  # NFKC has folded ％ to %
        float(any(ch in _BRACKETS for ch in t)),
        float(t.count("!")),  # NFKC has folded ！ to !
        float("?" in t),
        *lex,
        appeals,
        float(bool(keyword_norm) and keyword_norm in low),
        (sum(w in low for w in keyword_words) / len(keyword_words)) if keyword_words else 0.0,
        float(len(pieces)),
        *buckets,
    ]
    return row


def featurize_assets(texts: Sequence[str], keyword: str, sp,
                     term_weights: TermWeights | None = None) -> AssetBlock:
    """Per-asset features of texts (raw; normalised here) against the ad group's keyword, the
    lexicon read with the model's term weights (None: every match counts 1)."""
    keyword_norm = normalize(keyword).casefold()
    keyword_words = _keyword_words(keyword)
    rows, token_sets, number_sets, bigram_sets, keyword_sets = [], [], [], [], []
    for raw in texts:
        t = normalize(raw)
        pieces = tokenize(sp, t)
        rows.append(asset_feature_row(t, keyword_norm, keyword_words, pieces,
                                      raw_width=ad_width(raw), term_weights=term_weights))
        token_sets.append(frozenset(_content_pieces(pieces)))
        number_sets.append(frozenset(_NUMBER_RE.findall(t)))
        bigram_sets.append(char_bigrams(t))
        low = t.casefold()
        keyword_sets.append(frozenset(i for i, w in enumerate(keyword_words) if w in low))
    feats = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(ASSET_FEATURE_NAMES))
    return AssetBlock(feats=feats.astype(np.float32), token_sets=token_sets, number_sets=number_sets,
                      bigram_sets=bigram_sets, keyword_sets=keyword_sets,
                      n_keyword_words=len(keyword_words))


def _incidence(sets_a: Sequence[frozenset], sets_b: Sequence[frozenset]) -> tuple[np.ndarray, np.ndarray]:
    vocab = {tok: i for i, tok in enumerate(sorted(set().union(*sets_a, *sets_b)))}

    def build(sets):
        m = np.zeros((len(sets), len(vocab)), dtype=np.float64)
        for r, s in enumerate(sets):
            m[r, [vocab[t] for t in s]] = 1.0
        return m

    return build(sets_a), build(sets_b)


def _intersections(sets_a, sets_b) -> tuple[np.ndarray, np.ndarray]:
    """(|a ∩ b|, |a ∪ b|) matrices, exact small integers in float64."""
    a, b = _incidence(sets_a, sets_b)
    inter = a @ b.T
    return inter, a.sum(1)[:, None] + b.sum(1)[None, :] - inter


def jaccard_matrix(sets_a: Sequence[frozenset], sets_b: Sequence[frozenset]) -> np.ndarray:
    """(len(a), len(b)) Jaccard similarities; 0 when both sets are empty."""
    if not sets_a or not sets_b:
        return np.zeros((len(sets_a), len(sets_b)), dtype=np.float32)
    inter, union = _intersections(sets_a, sets_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        jac = np.where(union > 0, inter / np.maximum(union, 1.0), 0.0)
    return jac.astype(np.float32)


def shared_count_matrix(sets_a: Sequence[frozenset], sets_b: Sequence[frozenset]) -> np.ndarray:
    """Number of elements two sets share."""
    if not sets_a or not sets_b:
        return np.zeros((len(sets_a), len(sets_b)), dtype=np.float32)
    return _intersections(sets_a, sets_b)[0].astype(np.float32)


def shared_number_matrix(sets_a: Sequence[frozenset], sets_b: Sequence[frozenset]) -> np.ndarray:
    """1.0 where two texts mention a common number (e.g. the same price twice)."""
    return (shared_count_matrix(sets_a, sets_b) > 0).astype(np.float32)


def _sets(block: AssetBlock, name: str) -> list[frozenset]:
    # Blocks built elsewhere without a set simply share nothing.
    sets = getattr(block, name)
    if len(sets) == len(block):
        return list(sets)
    return [frozenset()] * len(block)


def _numbers(block: AssetBlock) -> list[frozenset]:
    return _sets(block, "number_sets")


def pair_matrices(a: AssetBlock, b: AssetBlock) -> list[np.ndarray]:
    """(len(a), len(b)) float32 matrices, one per PAIR_FEATURES entry, of every text pair."""
    # Appeal categories a text reads as (lex_* > 0): a match whose term weighs 0 in this market is
    # none here, while n_appeals still counts it (a category with a match, as the lexicon reads it).
    appeals_a = a.feats[:, _APPEAL_COLS] > 0
    appeals_b = b.feats[:, _APPEAL_COLS] > 0
    kw_words = max(a.n_keyword_words, b.n_keyword_words)
    kw_a, kw_b = _sets(a, "keyword_sets"), _sets(b, "keyword_sets")
    if kw_words and len(a) and len(b):
        covered = np.array([[len(x | y) for y in kw_b] for x in kw_a], dtype=np.float64) / kw_words
    else:
        covered = np.zeros((len(a), len(b)))
    width = _COL["raw_display_width"]
    mats = {
        "jaccard": jaccard_matrix(a.token_sets, b.token_sets),
        "char_bigram_jaccard": jaccard_matrix(_sets(a, "bigram_sets"), _sets(b, "bigram_sets")),
        "shared_tokens": shared_count_matrix(a.token_sets, b.token_sets),
        "shared_number": shared_number_matrix(_numbers(a), _numbers(b)),
        "shared_appeals": (appeals_a.astype(np.float32) @ appeals_b.T.astype(np.float32)),
        "keyword_coverage": covered,
        "width_sum": a.feats[:, width][:, None].astype(np.float64) + b.feats[:, width][None, :],
    }
    return [np.asarray(mats[f], dtype=np.float32).reshape(len(a), len(b)) for f in PAIR_FEATURES]


def combination_features(headlines: AssetBlock, descriptions: AssetBlock,
                         combos: np.ndarray) -> np.ndarray:
    """(N, len(COMBINATION_FEATURE_NAMES)) float32; combos[:, :3] index headlines, [:, 3:] descriptions.

    Vectorised: per-asset rows and all pairwise matrices are computed once per block and then
    gathered with the combination index columns. Each column reads one position or one pair.
    """
    combos = np.asarray(combos, dtype=np.int64).reshape(-1, 5)
    n = combos.shape[0]
    a = len(ASSET_FEATURE_NAMES)
    out = np.empty((n, len(COMBINATION_FEATURE_NAMES)), dtype=np.float32)
    for pos in range(3):
        out[:, pos * a:(pos + 1) * a] = headlines.feats[combos[:, pos]]
    for pos in range(2):
        out[:, (3 + pos) * a:(4 + pos) * a] = descriptions.feats[combos[:, 3 + pos]]

    mats = {
        "hh": pair_matrices(headlines, headlines),
        "dd": pair_matrices(descriptions, descriptions),
        "hd": pair_matrices(headlines, descriptions),
    }
    col = 5 * a
    pair_cols = ([("hh", i, j) for i, j in HH_PAIRS] + [("dd", 3 + i, 3 + j) for i, j in DD_PAIRS]
                 + [("hd", h, 3 + d) for h, d in HD_PAIRS])
    for kind, i, j in pair_cols:
        mats_k = mats[kind]
        flat = combos[:, i] * mats_k[0].shape[1] + combos[:, j]  # one index for all pair features
        for m in mats_k:  # same order as PAIR_FEATURES
            out[:, col] = m.ravel()[flat]
            col += 1
    assert col == out.shape[1]
    return out


def featurize_served_ad(ad: dict, sp, term_weights: TermWeights | None = None) -> np.ndarray:
    """(F,) features of a served ad via exactly the scoring path (its combination [0,1,2,0,1])."""
    heads = featurize_assets([ad.get("headline_1") or "", ad.get("headline_2") or "",
                              ad.get("headline_3") or ""], ad.get("keyword") or "", sp, term_weights)
    descs = featurize_assets([ad.get("description_1") or "", ad.get("description_2") or ""],
                             ad.get("keyword") or "", sp, term_weights)
    return combination_features(heads, descs, np.array([[0, 1, 2, 0, 1]], dtype=np.int32))[0]


SERVED_TEXT_COLUMNS = ("headline_1", "headline_2", "headline_3", "description_1", "description_2")


def featurize_served_ads(ads: Sequence[dict], sp, term_weights: TermWeights | None = None) -> np.ndarray:
    """(len(ads), F) features of served ads, row i for ads[i]; byte-identical to featurize_served_ad.

    Ads are grouped by (ad_group_id, keyword); within a group each distinct text is normalised,
    tokenised and featurised once (a pool's assets recur across its served ads), then each ad's
    row is gathered through combination_features, exactly as scoring does.
    """
    out = np.empty((len(ads), len(COMBINATION_FEATURE_NAMES)), dtype=np.float32)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, ad in enumerate(ads):
        groups.setdefault((str(ad.get("ad_group_id") or ""), ad.get("keyword") or ""), []).append(i)
    for (_, keyword), rows in groups.items():
        h_index: dict[str, int] = {}
        d_index: dict[str, int] = {}
        combos = np.empty((len(rows), 5), dtype=np.int32)
        for r, i in enumerate(rows):
            texts = [ads[i].get(c) or "" for c in SERVED_TEXT_COLUMNS]
            for k, t in enumerate(texts):
                index = h_index if k < 3 else d_index
                combos[r, k] = index.setdefault(t, len(index))
        heads = featurize_assets(list(h_index), keyword, sp, term_weights)
        descs = featurize_assets(list(d_index), keyword, sp, term_weights)
        out[rows] = combination_features(heads, descs, combos)
    return out
