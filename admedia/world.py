"""A seeded world of advertisers, ad groups, asset pools, served ads and their daily delivery.

The world also holds the hidden ground truth: the true CTR of any combination of an ad group's
assets. It is a logistic model whose logit is a sum of per-position terms (what each text says, its
width, a hidden per-asset quality) and per-position-pair terms (redundancy between texts), so it has
the same additive shape that the production model is constrained to (see docs/architecture.md).
The truth is for evaluation only: it never goes through HTTP.

Determinism: every random draw comes from a numpy Generator seeded by ``SeedSequence`` over the world
seed plus stable integers (stream tags, ad group indices, date ordinals); the hidden per-asset quality
is a keyed blake2b hash of the text. Never Python's ``hash()``, which is salted per process.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import math
import re
import statistics
import unicodedata
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import textgen
from .textgen import DESCRIPTION_MAX_WIDTH, HEADLINE_MAX_WIDTH, display_width

POSITIONS = ("HEADLINE_1", "HEADLINE_2", "HEADLINE_3", "DESCRIPTION_1", "DESCRIPTION_2")
HEADLINE_PINS = POSITIONS[:3]
DESCRIPTION_PINS = POSITIONS[3:]

# Stream tags keep the different uses of the seed independent of each other.
_TAG_ADVERTISERS = 1
_TAG_AD_GROUP = 2
_TAG_PERF = 3
_TAG_QUALITY = 4
_TAG_SHIFT = 5  # pool_shift draws: a stream of their own, so unshifted draws never move
_TAG_NOISE = 6  # ctr_noise_sd draws: their own stream, so worlds without noise never move


# --------------------------------------------------------------------------------------------
# Configuration

SHIFTED_PRESET_POOL_SHIFT = 1.0
DRIFTING_PRESET_DAY = 30


@dataclass(frozen=True)
class WorldConfig:
    seed: int = 7
    n_advertisers: int = 80
    n_ad_groups: int = 1000
    served_ads_per_group: int = 8
    days: int = 60
    end_date: dt.date = dt.date(2025, 6, 30)  # fixed, not "today": worlds must be reproducible
    min_headlines: int = 8
    max_headlines: int = 15
    min_descriptions: int = 3
    max_descriptions: int = 4
    pin_rate: float = 0.15
    empty_headline3_rate: float = 0.05
    mean_daily_impressions: float = 400.0  # per served ad and day, on average
    unserved_rate: float = 0.02  # ad groups with a pool but no served ad yet (new ad groups)
    # Share of ad groups whose candidate pools were rewritten after their served history: a new
    # industry (textgen.SHIFT_INDUSTRY) with its own vocabulary and longer texts. Served ads and
    # their delivery stay those of the original pools. 0 leaves the world exactly as without it.
    pool_shift: float = 0.0
    # ---- market variants (docs/model.md, "World variants"). The defaults are the world as tuned;
    # at the defaults every number below multiplies by exactly 1.0, so the presets are unchanged.
    # How much each slot (H1, H2, H3, D1, D2) is seen: scales that position's terms (what the text
    # says, its width, its hidden quality) and each pair term by the product of its two slots.
    slot_visibility: tuple[float, float, float, float, float] = (1.0, 1.0, 1.0, 1.0, 1.0)
    # Strength of the penalty for repeating content or appeals between two texts.
    redundancy: float = 1.0
    # How much an appeal's value depends on its slot within headlines (descriptions): 0 values it
    # alike in every slot of its kind (the slot average), 1 as tuned, 2 doubles the differences.
    ordering: float = 1.0
    # Spread (log-odds sd) of the hidden per-asset quality that no text feature can see.
    quality_sd: float = 0.15
    # Log-odds noise of each ad's CTR on each day (audience mix): over-dispersed clicks.
    ctr_noise_sd: float = 0.0
    # ---- concept drift: from day `drift_day` (offset from start_date; may lie after end_date)
    # the rules change: the signals in `drift_signals` stop working and slot visibility is
    # multiplied by `drift_slot_visibility`. Inputs look the same; daily performance, experiment
    # creatives and the true CTR follow the new rules from that day on. None: no drift.
    drift_day: int | None = None
    drift_signals: tuple[str, ...] = ("discount", "urgency")
    drift_slot_visibility: tuple[float, float, float, float, float] = (0.6, 1.0, 1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        if not (1 <= self.min_headlines <= self.max_headlines <= 15) or self.min_headlines < 3:
            raise ValueError("need 3 <= min_headlines <= max_headlines <= 15")
        if not (2 <= self.min_descriptions <= self.max_descriptions <= 4):
            raise ValueError("need 2 <= min_descriptions <= max_descriptions <= 4")
        if self.n_ad_groups < 1 or self.n_advertisers < 1 or self.days < 1:
            raise ValueError("n_ad_groups, n_advertisers and days must be >= 1")
        if self.served_ads_per_group < 0:
            raise ValueError("served_ads_per_group must be >= 0")
        if not 0.0 <= self.pool_shift <= 1.0:
            raise ValueError("pool_shift must be in [0, 1]")
        for name in ("slot_visibility", "drift_slot_visibility"):
            v = getattr(self, name)
            if len(v) != 5 or not all(0.0 <= x <= 2.0 for x in v):
                raise ValueError(f"{name} needs 5 values in [0, 2] (H1, H2, H3, D1, D2), got {v!r}")
        if not (0.0 <= self.redundancy <= 5.0 and 0.0 <= self.ordering <= 3.0):
            raise ValueError("redundancy must be in [0, 5] and ordering in [0, 3]")
        if not (0.0 <= self.quality_sd <= 1.0 and 0.0 <= self.ctr_noise_sd <= 1.0):
            raise ValueError("quality_sd and ctr_noise_sd must be in [0, 1]")
        unknown = set(self.drift_signals) - set(SIGNALS)
        if unknown:
            raise ValueError(f"drift_signals {sorted(unknown)} are not signals; choose from {list(SIGNALS)}")
        if self.drift_day is not None and self.drift_day < 1:
            raise ValueError("drift_day must be >= 1 (a day offset from start_date) or None")

    @property
    def start_date(self) -> dt.date:
        return self.end_date - dt.timedelta(days=self.days - 1)

    @property
    def drift_date(self) -> dt.date | None:
        """First day under the drifted rules (None: the rules never change)."""
        return None if self.drift_day is None else self.start_date + dt.timedelta(days=self.drift_day)

    @classmethod
    def preset(cls, name: str, **overrides) -> "WorldConfig":
        presets = _PRESETS
        if name not in presets:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(presets)}")
        return cls(**{**presets[name], **overrides})


_PRESETS: dict[str, dict] = {
    # For tests: generates and serves in a few tens of milliseconds.
    "tiny": dict(n_advertisers=3, n_ad_groups=12, served_ads_per_group=4, days=10,
                 mean_daily_impressions=300.0),
    # For the experiment test: big enough for a model that beats random, small enough to run in CI.
    "small": dict(n_advertisers=8, n_ad_groups=80, served_ads_per_group=8, days=21),
    "demo": dict(n_advertisers=24, n_ad_groups=240, served_ads_per_group=8, days=30),
    "default": dict(n_advertisers=80, n_ad_groups=1000, served_ads_per_group=8, days=60),
    # The demo world after most advertisers rewrote their pools for a new industry: the
    # input_drift check must fail on it (docs/monitoring.md).
    "shifted": dict(n_advertisers=24, n_ad_groups=240, served_ads_per_group=8, days=30,
                    pool_shift=SHIFTED_PRESET_POOL_SHIFT),
    # Concept drift (issue 16): the demo world whose CTR rules change on day 30, the day
    # after a month of stable history (discount and urgency appeals stop working, headline
    # 1 is seen less). Inputs look the same: a model trained on the first 30 days silently
    # becomes wrong. 45 days, so a clock can run 15 days past the change.
    "drifting": dict(n_advertisers=24, n_ad_groups=240, served_ads_per_group=8, days=45,
                     drift_day=DRIFTING_PRESET_DAY),
}


def preset_names() -> list[str]:
    return sorted(_PRESETS)


# --------------------------------------------------------------------------------------------
# Ground truth: text signals and weights

_INDUSTRY_BASE_CTR = {
    "美容": 0.035, "不動産": 0.025, "転職": 0.040, "旅行": 0.045,
    "通信": 0.030, "教育": 0.035, "金融": 0.022, "ファッションEC": 0.050,
    textgen.SHIFT_INDUSTRY.name: 0.038,  # only in worlds with pool_shift > 0
}

SIGNALS = ("keyword", "number", "price", "percent", "discount", "free", "shipping", "urgency",
           "social_proof", "cta", "official", "bracket", "exclaim")

_SIGNAL_PATTERNS = {
    "number": re.compile(r"\d"),
    "price": re.compile(r"\d[\d,]*\s*円|¥\s*\d|\d[\d,]*万円"),
    "percent": re.compile(r"\d+(\.\d+)?\s*%|半額"),
    "discount": re.compile(r"OFF|割引|半額|セール|特別価格|値下げ|還元|早割|直前割", re.IGNORECASE),
    "free": re.compile(r"無料|(?<![\d,])0円"),
    "shipping": re.compile(r"送料無料|返品無料|翌日お届け|即日開通"),
    "urgency": re.compile(r"本日限定|今だけ|期間限定|先着|残りわずか|今週末まで|直前割|早割"),
    "social_proof": re.compile(r"満足度|累計|No\.?1|ランキング|口コミ|人気|話題|実績|合格率|1位", re.IGNORECASE),
    "cta": re.compile(r"申し込み|試す|こちら|チェック|相談|予約|始めよう|ご活用"),
    "official": re.compile(r"公式"),
    "bracket": re.compile(r"[【《\\]"),
    "exclaim": re.compile(r"!"),
}

# Weight of each signal by position (H1, H2, H3, D1, D2): H1 is seen most, CTA works at the end.
_W = {
    "keyword":      (0.45, 0.20, 0.10, 0.15, 0.08),
    "number":       (0.10, 0.08, 0.05, 0.05, 0.03),
    "price":        (0.12, 0.14, 0.08, 0.10, 0.06),
    "percent":      (0.15, 0.12, 0.06, 0.08, 0.05),
    "discount":     (0.12, 0.12, 0.08, 0.08, 0.05),
    "free":         (0.08, 0.10, 0.06, 0.08, 0.06),
    "shipping":     (0.10, 0.12, 0.08, 0.08, 0.06),
    "urgency":      (0.08, 0.14, 0.12, 0.05, 0.12),
    "social_proof": (0.14, 0.10, 0.05, 0.12, 0.05),
    "cta":          (-0.10, 0.00, 0.12, 0.02, 0.22),
    "official":     (0.12, 0.02, -0.02, 0.02, 0.00),
    "bracket":      (0.10, 0.03, 0.00, 0.02, 0.00),
    "exclaim":      (0.02, 0.03, 0.03, -0.02, 0.02),
}
# Some appeals matter more in some industries (free shipping sells fashion, urgency less so loans).
_INDUSTRY_AFFINITY = {
    "ファッションEC": {"shipping": 1.8, "discount": 1.3},
    "旅行": {"discount": 1.4, "urgency": 1.3},
    "金融": {"social_proof": 1.4, "urgency": 0.5, "free": 1.3},
    "不動産": {"price": 1.4, "number": 1.2},
    "転職": {"free": 1.3, "social_proof": 1.2},
    "通信": {"price": 1.5},
    "教育": {"free": 1.5, "social_proof": 1.2},
    "美容": {"social_proof": 1.3, "price": 1.2},
    textgen.SHIFT_INDUSTRY.name: {"shipping": 1.5, "social_proof": 1.2},
}
_QUALITY_SD = 0.15
_STD_NORMAL = statistics.NormalDist()
_QUALITY_SCALE = (1.0, 0.8, 0.6, 0.7, 0.5)  # hidden quality shows less in less visible positions
_EMPTY_H3_TERM = -0.12  # an ad showing only two headlines loses a little
# Pair penalties: similarity (bigram Jaccard) plus shared appeal categories (diminishing returns).
_HH_PAIR_W = {(0, 1): 0.9, (0, 2): 0.6, (1, 2): 0.7}
_HD_PAIR_W = 0.35
_DD_PAIR_W = 0.5
_SHARED_APPEAL_W = 0.06
_APPEALS = ("discount", "urgency", "social_proof", "cta", "shipping", "free")
# Centres the sum of per-asset terms of a typical combination so the industry base is roughly the
# CTR of a random combination (calibrated once on generated worlds).
_CENTRE = 0.72
# One knob for the spread of true CTR within an ad group (best vs random combination).
_TERM_SCALE = 0.7


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def text_signals(text: str, keyword: str) -> dict[str, float]:
    """What a text says, as 0/1 signals read from its NFKC-normalised form."""
    t = normalize(text)
    out = {name: (1.0 if pat.search(t) else 0.0) for name, pat in _SIGNAL_PATTERNS.items()}
    kw = normalize(keyword)
    out["keyword"] = 1.0 if kw and kw in t else 0.0
    return out


def _width_term(width: int, is_headline: bool) -> float:
    """Very short texts say too little; texts at the limit risk truncation on small screens."""
    if is_headline:
        if width < 10:
            return -0.25
        if width < 14:
            return -0.10
        if width <= 26:
            return 0.0 if width < 18 else 0.04
        return -0.06 if width <= HEADLINE_MAX_WIDTH else -0.30
    if width < 30:
        return -0.20
    if width < 44:
        return -0.08
    if width < 84:
        return 0.03
    return -0.05 if width <= DESCRIPTION_MAX_WIDTH else -0.30


def _quality(seed: int, ad_group_id: str, text: str, sd: float = _QUALITY_SD) -> float:
    """Hidden per-asset quality: a pure function of (seed, ad group, text), invisible in features.

    A keyed blake2b hash mapped through the normal quantile: stable across processes and much
    cheaper than building a Generator per asset.
    """
    h = hashlib.blake2b(f"{seed}|{_TAG_QUALITY}|{ad_group_id}|{text}".encode("utf-8"), digest_size=8)
    u = (int.from_bytes(h.digest(), "big") + 0.5) / 2.0**64
    return sd * _STD_NORMAL.inv_cdf(u)


@dataclass(frozen=True)
class Rules:
    """The market's CTR rules: each signal's weight by position, how much each slot is seen, the
    strength of redundancy between texts and the spread of hidden asset quality.

    Built from a WorldConfig (`Rules.of(config)`); a drifting world has a second set in force from
    its drift day. Hashable: the cached per-asset terms are keyed by it. At the config defaults
    every multiplier is exactly 1.0 and the weights are _W itself, so the presets' numbers are
    bit for bit those of the world before variants existed.
    """

    weights: tuple[tuple[float, ...], ...]  # one 5-tuple per signal, in SIGNALS order
    visibility: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0)
    redundancy: float = 1.0
    quality_sd: float = _QUALITY_SD

    @classmethod
    def of(cls, config: "WorldConfig", drifted: bool = False) -> "Rules":
        weights = {name: _W[name] for name in SIGNALS}
        if config.ordering != 1.0:
            weights = {name: _reorder(w, config.ordering) for name, w in weights.items()}
        visibility = tuple(float(v) for v in config.slot_visibility)
        if drifted:
            weights = {name: (0.0,) * 5 if name in config.drift_signals else w for name, w in weights.items()}
            visibility = tuple(v * d for v, d in zip(visibility, config.drift_slot_visibility))
        return cls(tuple(weights[name] for name in SIGNALS), visibility, float(config.redundancy),
                   float(config.quality_sd))

    def pair_weight(self, base: float, p: int, q: int) -> float:
        return base * (self.redundancy * self.visibility[p] * self.visibility[q])


def _reorder(w: tuple[float, ...], ordering: float) -> tuple[float, ...]:
    """Weights whose differences between slots of one kind (headlines, descriptions) are scaled
    by `ordering` around that kind's slot average."""
    mh, md = sum(w[:3]) / 3.0, sum(w[3:]) / 2.0
    return tuple((mh if p < 3 else md) + ordering * (x - (mh if p < 3 else md)) for p, x in enumerate(w))


@functools.lru_cache(maxsize=65536)
def _asset_terms(text: str, keyword: str, industry: str, ad_group_id: str, seed: int,
                 positions: tuple[int, ...], rules: Rules) -> tuple[tuple[float, ...], dict[str, float]]:
    """Per-position logit contributions of one asset (scalar Python sums: bit-stable).

    Cached: true_ctr_texts is called with the same pool texts over and over. Callers must not
    mutate the returned signal dict.
    """
    v = rules.visibility
    if text == "":
        return tuple(_TERM_SCALE * _EMPTY_H3_TERM * v[p] for p in positions), {}
    sig = text_signals(text, keyword)
    aff = _INDUSTRY_AFFINITY.get(industry, {})
    q = _quality(seed, ad_group_id, text, rules.quality_sd)
    w = display_width(text)
    out = []
    for p in positions:
        s = 0.0
        for name, weights in zip(SIGNALS, rules.weights):
            if sig[name]:
                s += weights[p] * aff.get(name, 1.0)
        s += _width_term(w, p < 3) + _QUALITY_SCALE[p] * q
        out.append(_TERM_SCALE * s * v[p])
    return tuple(out), sig


@functools.lru_cache(maxsize=65536)
def _bigrams(text: str) -> frozenset[str]:
    t = re.sub(r"[\s\W_]+", "", normalize(text))  # punctuation and symbols are not content
    return frozenset(t[i:i + 2] for i in range(len(t) - 1))


def _pair_penalty(a: tuple[frozenset, dict], b: tuple[frozenset, dict]) -> float:
    """Redundancy between two texts: bigram Jaccard plus shared appeal categories."""
    (ga, sa), (gb, sb) = a, b
    if not ga or not gb:
        jac = 0.0
    else:
        jac = len(ga & gb) / len(ga | gb)
    shared = sum(1 for k in _APPEALS if sa.get(k) and sb.get(k))
    return -_TERM_SCALE * (jac + _SHARED_APPEAL_W * shared)


@dataclass
class _Truth:
    """Precomputed tables of one ad group's ground truth: per-position and per-pair terms."""

    base: float
    h_terms: np.ndarray  # (3, n_h)
    d_terms: np.ndarray  # (2, n_d)
    hh: np.ndarray  # (n_h, n_h) pair penalty (unweighted)
    hd: np.ndarray  # (n_h, n_d)
    dd: np.ndarray  # (n_d, n_d)
    rules: Rules

    @classmethod
    def build(cls, base: float, headlines: Sequence[str], descriptions: Sequence[str], keyword: str,
              industry: str, ad_group_id: str, seed: int, rules: Rules) -> "_Truth":
        # A trailing "" headline makes index -1 mean "no third headline" (numpy wraps -1 to it).
        headlines = [*headlines, ""]
        h_terms, h_info = [], []
        for t in headlines:
            terms, sig = _asset_terms(t, keyword, industry, ad_group_id, seed, (0, 1, 2), rules)
            h_terms.append(terms)
            h_info.append((_bigrams(t), sig))
        d_terms, d_info = [], []
        for t in descriptions:
            terms, sig = _asset_terms(t, keyword, industry, ad_group_id, seed, (3, 4), rules)
            d_terms.append(terms)
            d_info.append((_bigrams(t), sig))

        def table(xs, ys):
            return np.array([[_pair_penalty(x, y) for y in ys] for x in xs], dtype=np.float64).reshape(
                len(xs), len(ys))

        def sym_table(xs):  # the penalty is symmetric: compute the upper triangle only
            out = np.zeros((len(xs), len(xs)), dtype=np.float64)
            for i in range(len(xs)):
                for j in range(i, len(xs)):
                    out[i, j] = out[j, i] = _pair_penalty(xs[i], xs[j])
            return out

        return cls(base=base,
                   h_terms=np.array(h_terms, dtype=np.float64).reshape(len(headlines), 3).T.copy(),
                   d_terms=np.array(d_terms, dtype=np.float64).reshape(len(descriptions), 2).T.copy(),
                   hh=sym_table(h_info), hd=table(h_info, d_info), dd=sym_table(d_info), rules=rules)

    def logit(self, combos: np.ndarray) -> np.ndarray:
        c = np.asarray(combos, dtype=np.intp)
        h1, h2, h3, d1, d2 = c[:, 0], c[:, 1], c[:, 2], c[:, 3], c[:, 4]
        z = (self.base + self.h_terms[0, h1] + self.h_terms[1, h2] + self.h_terms[2, h3]
             + self.d_terms[0, d1] + self.d_terms[1, d2])
        w = self.rules.pair_weight
        z = z + w(_HH_PAIR_W[(0, 1)], 0, 1) * self.hh[h1, h2]
        z = z + w(_HH_PAIR_W[(0, 2)], 0, 2) * self.hh[h1, h3]
        z = z + w(_HH_PAIR_W[(1, 2)], 1, 2) * self.hh[h2, h3]
        for p, h in enumerate((h1, h2, h3)):
            w1, w2 = w(_HD_PAIR_W, p, 3), w(_HD_PAIR_W, p, 4)
            if w1 == w2:  # the tuned world's order of operations: same numbers to the last bit
                z = z + w1 * (self.hd[h, d1] + self.hd[h, d2])
            else:
                z = z + w1 * self.hd[h, d1] + w2 * self.hd[h, d2]
        z = z + w(_DD_PAIR_W, 3, 4) * self.dd[d1, d2]
        return z

    def ctr(self, combos: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(combos)))


# --------------------------------------------------------------------------------------------
# World objects


@dataclass
class Asset:
    asset_id: str
    asset_type: str  # HEADLINE | DESCRIPTION
    text: str
    pinned_field: str = ""

    @property
    def width(self) -> int:
        return display_width(self.text)

    @property
    def within_limit(self) -> bool:
        limit = HEADLINE_MAX_WIDTH if self.asset_type == "HEADLINE" else DESCRIPTION_MAX_WIDTH
        return self.width <= limit


@dataclass
class AdGroup:
    ad_group_id: str
    campaign_id: str
    advertiser_id: str
    industry: str
    keyword: str
    brand: str
    headlines: list[Asset]
    descriptions: list[Asset]
    volume: float  # mean daily impressions of one of its served ads
    base_logit: float


@dataclass
class ServedAd:
    ad_id: str
    ad_group_id: str
    combo: tuple[int, int, int, int, int]  # pool indices; combo[2] == -1: no third headline
    start_day: int  # inclusive, day offsets from the world's start date
    end_day: int  # inclusive
    share: float  # multiplies the ad group's volume
    true_ctr: float  # under the rules in force from the world's first day
    cvr: float
    cpc_yen: float
    true_ctr_drifted: float = float("nan")  # under the rules from drift_day on (drifting worlds)


def _allowed(assets: Sequence[Asset], positions: Sequence[str]) -> list[list[int]]:
    """Pool indices allowed at each position under RSA pin rules and width limits."""
    ok = [i for i, a in enumerate(assets) if a.within_limit]
    out = []
    for pos in positions:
        pinned_here = [i for i in ok if assets[i].pinned_field == pos]
        out.append(pinned_here if any(a.pinned_field == pos for a in assets)
                   else [i for i in ok if assets[i].pinned_field == ""])
    return out


def _ordered_distinct(allowed: list[list[int]]) -> np.ndarray:
    rows = [c for c in itertools.product(*allowed) if len(set(c)) == len(c)]
    return np.array(rows, dtype=np.int32).reshape(len(rows), len(allowed))


def _feasible(headlines: Sequence[Asset], descriptions: Sequence[Asset]) -> bool:
    return (_ordered_distinct(_allowed(headlines, HEADLINE_PINS)).shape[0] > 0
            and _ordered_distinct(_allowed(descriptions, DESCRIPTION_PINS)).shape[0] > 0)


class World:
    """The simulated ad platform. Build with ``World.generate(config)``."""

    def __init__(self, config: WorldConfig, advertisers: list[dict], campaigns: list[dict],
                 ad_groups: list[AdGroup], served: list[ServedAd]):
        self.config = config
        self.advertisers = advertisers
        self.campaigns = campaigns
        self._ad_groups = ad_groups
        self._ag_by_id = {ag.ad_group_id: ag for ag in ad_groups}
        self._served = served
        self._served_by_id = {ad.ad_id: ad for ad in served}
        # Rules by epoch: 0 from the first day; 1 from config.drift_date (drifting worlds only).
        self._rules = [Rules.of(config)] + ([Rules.of(config, drifted=True)] if config.drift_day else [])
        self._truth: dict[tuple[str, int], _Truth] = {}
        self._ads_rows = [self._ad_row(ad) for ad in served]
        self._pool_rows = [self._asset_row(ag, a) for ag in ad_groups for a in ag.headlines + ag.descriptions]

    # ---- generation --------------------------------------------------------------------------

    @classmethod
    def generate(cls, config: WorldConfig | None = None) -> "World":
        config = config or WorldConfig()
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, _TAG_ADVERTISERS]))
        industries = textgen.INDUSTRIES
        advertisers, campaigns = [], []
        for a in range(config.n_advertisers):
            ind = industries[int(rng.integers(len(industries)))]
            brand = ind.brands[int(rng.integers(len(ind.brands)))]
            adv_id = f"adv{a + 1:04d}"
            advertisers.append({"advertiser_id": adv_id, "brand": brand, "industry": ind.name})
            for c in range(int(rng.integers(1, 4))):
                campaigns.append({"campaign_id": f"cmp{len(campaigns) + 1:05d}", "advertiser_id": adv_id})
        by_adv: dict[str, list[str]] = {}
        for c in campaigns:
            by_adv.setdefault(c["advertiser_id"], []).append(c["campaign_id"])

        ad_groups: list[AdGroup] = []
        served: list[ServedAd] = []
        for g in range(config.n_ad_groups):
            # Each ad group has its own stream: its content does not shift when others change.
            grng = np.random.default_rng(np.random.SeedSequence([config.seed, _TAG_AD_GROUP, g]))
            # Cycle advertisers first so every advertiser has at least one ad group.
            adv = advertisers[g % len(advertisers)] if g < len(advertisers) else \
                advertisers[int(grng.integers(len(advertisers)))]
            ag = cls._make_ad_group(config, grng, g, adv, by_adv[adv["advertiser_id"]])
            ad_groups.append(ag)
            if grng.random() >= config.unserved_rate:
                served.extend(cls._make_served(config, grng, ag))

        world = cls(config, advertisers, campaigns, ad_groups, served)
        by_group: dict[str, list[ServedAd]] = {}
        for ad in served:
            by_group.setdefault(ad.ad_group_id, []).append(ad)
        for ag_id, group in by_group.items():
            combos = np.array([ad.combo for ad in group])
            ctr = world._truth_of(ag_id, 0).ctr(combos)
            for ad, c in zip(group, ctr):
                ad.true_ctr = float(c)
            if config.drift_day:
                for ad, c in zip(group, world._truth_of(ag_id, 1).ctr(combos)):
                    ad.true_ctr_drifted = float(c)
        if config.pool_shift > 0:
            world._shift_pools()
        return world

    def _shift_pools(self) -> None:
        """Rewrite the pools of a ``pool_shift`` share of ad groups for the new industry.

        Runs after the served ads' rows and true CTRs are fixed, so those keep describing the
        original pools (the history predates the new pools). The ad group takes the new industry,
        keyword and brand, so the ground truth of its new pool reads them; its traffic volume and
        its own offset from the industry base CTR stay. Draws come from (seed, _TAG_SHIFT) streams only.
        """
        config = self.config
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, _TAG_SHIFT]))
        n = int(round(config.pool_shift * len(self._ad_groups)))
        chosen = sorted(int(i) for i in rng.permutation(len(self._ad_groups))[:n])
        ind = textgen.SHIFT_INDUSTRY
        style = textgen.SHIFT_STYLE
        new_logit = math.log(_INDUSTRY_BASE_CTR[ind.name] / (1 - _INDUSTRY_BASE_CTR[ind.name]))
        for g in chosen:
            ag = self._ad_groups[g]
            grng = np.random.default_rng(np.random.SeedSequence([config.seed, _TAG_SHIFT, g]))
            old = _INDUSTRY_BASE_CTR[ag.industry]
            offset = ag.base_logit - math.log(old / (1 - old))  # the group's own noise, minus _CENTRE
            keyword = ind.keywords[int(grng.integers(len(ind.keywords)))]
            brand = ind.brands[int(grng.integers(len(ind.brands)))]
            headlines, descriptions = self._make_pool(config, grng, ag.ad_group_id, ind, brand, keyword, style)
            ag.industry, ag.keyword, ag.brand = ind.name, keyword, brand
            ag.headlines, ag.descriptions = headlines, descriptions
            ag.base_logit = new_logit + offset
            for epoch in range(len(self._rules)):
                self._truth.pop((ag.ad_group_id, epoch), None)
        self._pool_rows = [self._asset_row(ag, a) for ag in self._ad_groups for a in ag.headlines + ag.descriptions]

    @staticmethod
    def _make_pool(config: WorldConfig, rng: np.random.Generator, ag_id: str, ind: textgen.Industry,
                   brand: str, keyword: str, style: textgen.TextStyle | None = None) -> tuple[list[Asset], list[Asset]]:
        """A pool of the ad group's texts (in ``style``, default the original one): sizes, widths, pins."""
        n_h = int(rng.integers(config.min_headlines, config.max_headlines + 1))
        n_d = int(rng.integers(config.min_descriptions, config.max_descriptions + 1))
        h_texts = textgen.asset_texts(rng, ind, brand, keyword, n_h, "HEADLINE", style=style)
        d_texts = textgen.asset_texts(rng, ind, brand, keyword, n_d, "DESCRIPTION", style=style)
        headlines = [Asset(f"{ag_id}-h{i + 1:02d}", "HEADLINE", t) for i, t in enumerate(h_texts)]
        descriptions = [Asset(f"{ag_id}-d{i + 1:02d}", "DESCRIPTION", t) for i, t in enumerate(d_texts)]
        makers = ((headlines, 3, functools.partial(textgen.headline, style=style)),
                  (descriptions, 2, functools.partial(textgen.description, style=style)))
        # A pool must be servable without pins: replace over-long assets if too few remain.
        for assets, need, make in makers:
            texts = {a.text for a in assets}
            for a in assets:
                if sum(x.within_limit for x in assets) >= need:
                    break
                if not a.within_limit:
                    t = make(rng, ind, brand, keyword)
                    while t in texts:
                        t = make(rng, ind, brand, keyword)
                    texts.add(t)
                    a.text = t
        if rng.random() < config.pin_rate:
            World._pin(rng, headlines, descriptions)
        return headlines, descriptions

    @staticmethod
    def _make_ad_group(config: WorldConfig, rng: np.random.Generator, g: int, adv: dict,
                       campaign_ids: list[str]) -> AdGroup:
        ind = textgen.INDUSTRY_BY_NAME[adv["industry"]]
        keyword = ind.keywords[int(rng.integers(len(ind.keywords)))]
        brand = adv["brand"]
        ag_id = f"ag{g + 1:05d}"
        headlines, descriptions = World._make_pool(config, rng, ag_id, ind, brand, keyword)

        volume = float(rng.lognormal(math.log(config.mean_daily_impressions) - 0.32, 0.8))
        base_ctr = _INDUSTRY_BASE_CTR[ind.name]
        base_logit = math.log(base_ctr / (1 - base_ctr)) + float(rng.normal(0.0, 0.25)) - _CENTRE
        return AdGroup(ag_id, campaign_ids[int(rng.integers(len(campaign_ids)))], adv["advertiser_id"],
                       ind.name, keyword, brand, headlines, descriptions, volume, base_logit)

    @staticmethod
    def _pin(rng: np.random.Generator, headlines: list[Asset], descriptions: list[Asset]) -> None:
        """Pin 1-2 assets the way advertisers do (mostly the brand/official line in headline 1)."""
        valid_h = [a for a in headlines if a.within_limit]
        valid_d = [a for a in descriptions if a.within_limit]
        official = [a for a in valid_h if "公式" in a.text]
        kinds = ["h1", "h1_shared", "h1_d1", "h_other", "d"]
        kind = kinds[int(rng.choice(len(kinds), p=[0.4, 0.15, 0.15, 0.15, 0.15]))]
        first = official[0] if official else valid_h[int(rng.integers(len(valid_h)))]
        chosen: list[tuple[Asset, str]] = []
        if kind in ("h1", "h1_shared", "h1_d1"):
            chosen.append((first, "HEADLINE_1"))
        if kind == "h1_shared":
            others = [a for a in valid_h if a is not first]
            chosen.append((others[int(rng.integers(len(others)))], "HEADLINE_1"))
        if kind == "h1_d1":
            chosen.append((valid_d[int(rng.integers(len(valid_d)))], "DESCRIPTION_1"))
        if kind == "h_other":
            chosen.append((valid_h[int(rng.integers(len(valid_h)))], ("HEADLINE_2", "HEADLINE_3")[int(rng.integers(2))]))
        if kind == "d":
            chosen.append((valid_d[int(rng.integers(len(valid_d)))], ("DESCRIPTION_1", "DESCRIPTION_2")[int(rng.integers(2))]))
        for a, pos in chosen:
            a.pinned_field = pos
        if not _feasible(headlines, descriptions):  # e.g. too few unpinned descriptions left
            for a, _ in chosen:
                a.pinned_field = ""

    @staticmethod
    def _make_served(config: WorldConfig, rng: np.random.Generator, ag: AdGroup) -> list[ServedAd]:
        h_allowed = _allowed(ag.headlines, HEADLINE_PINS)
        d_allowed = _allowed(ag.descriptions, DESCRIPTION_PINS)
        h3_pinned = any(a.pinned_field == "HEADLINE_3" for a in ag.headlines)
        seen: set[tuple] = set()
        out: list[ServedAd] = []
        ind = ag.industry
        for attempt in range(config.served_ads_per_group * 20):
            if len(out) == config.served_ads_per_group:
                break
            combo = []
            for allowed in h_allowed + d_allowed:
                used = combo if len(combo) < 3 else combo[3:]
                cands = [i for i in allowed if i not in used]
                if not cands:
                    break
                combo.append(cands[int(rng.random() * len(cands))])
            if len(combo) < 5:
                continue
            if not h3_pinned and rng.random() < config.empty_headline3_rate:
                combo[2] = -1
            combo_t = tuple(int(x) for x in combo)
            if combo_t in seen:
                continue
            seen.add(combo_t)
            start = int(rng.integers(1, max(2, config.days // 2))) if rng.random() < 0.25 and config.days > 2 else 0
            end = int(rng.integers(max(start + 1, config.days // 2), config.days)) \
                if rng.random() < 0.2 and config.days > 2 else config.days - 1
            out.append(ServedAd(
                ad_id=f"ad{ag.ad_group_id[2:]}-{len(out) + 1:02d}", ad_group_id=ag.ad_group_id,
                combo=combo_t, start_day=start, end_day=max(start, end),
                share=float(rng.lognormal(-0.045, 0.3)), true_ctr=float("nan"),
                cvr=float(np.clip(rng.normal(0.03 if ind != "ファッションEC" else 0.05, 0.01), 0.005, 0.2)),
                cpc_yen=float(rng.lognormal(math.log(80 if ind not in ("金融", "不動産") else 250), 0.3)),
            ))
        return out

    # ---- public data ---------------------------------------------------------------------------

    @property
    def start_date(self) -> dt.date:
        return self.config.start_date

    @property
    def end_date(self) -> dt.date:
        return self.config.end_date

    def ad_group_ids(self) -> list[str]:
        return [ag.ad_group_id for ag in self._ad_groups]

    def ads(self) -> list[dict]:
        """Served ads (fixed combinations), rows as ``raw.ads``; a missing headline_3 is ""."""
        return [dict(r) for r in self._ads_rows]

    def asset_pools(self) -> list[dict]:
        """All pool assets, rows as ``raw.asset_pools``, in ad group then pool order."""
        return [dict(r) for r in self._pool_rows]

    def pool(self, ad_group_id: str) -> tuple[list[dict], list[dict]]:
        """(headlines, descriptions) of one ad group, in asset_id order (= pool index order)."""
        ag = self._ag(ad_group_id)
        return ([self._asset_row(ag, a) for a in ag.headlines],
                [self._asset_row(ag, a) for a in ag.descriptions])

    def rules_epoch(self, day: dt.date | None = None) -> int:
        """Which rules are in force on `day`: 0, or 1 from the drift date of a drifting world.

        None means the day after end_date: when the scorer's recommendations would be served.
        """
        drift = self.config.drift_date
        day = self.end_date + dt.timedelta(days=1) if day is None else day
        return int(drift is not None and day >= drift)

    def ad_group_volume(self, ad_group_id: str) -> float:
        """Mean daily impressions of one served ad of the ad group (its traffic scale)."""
        return self._ag(ad_group_id).volume

    def daily_performance(self, start: dt.date, end: dt.date) -> list[dict]:
        """Rows as ``raw.ad_daily_performance`` for ``start..end`` (inclusive), by date then ad_id.

        Dates outside the world's range simply have no rows. Each date's draws come from a
        generator seeded by (seed, date) over all ads in a fixed order, so a (ad_id, date) row
        never depends on the range asked for. Clicks follow the rules in force that day
        (rules_epoch), each ad's CTR moved by its day's noise when ctr_noise_sd > 0.
        """
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        lo, hi = max(start, self.start_date), min(end, self.end_date)
        rows: list[dict] = []
        if lo > hi or not self._served:
            return rows
        ads = self._served
        vol = np.array([self._ag_by_id[a.ad_group_id].volume * a.share for a in ads])
        ctr_by_epoch = [np.array([a.true_ctr for a in ads]),
                        np.array([a.true_ctr_drifted for a in ads])][:len(self._rules)]
        cvr = np.array([a.cvr for a in ads])
        cpc = np.array([a.cpc_yen for a in ads])
        start_day = np.array([a.start_day for a in ads])
        end_day = np.array([a.end_day for a in ads])
        order = sorted(range(len(ads)), key=lambda i: ads[i].ad_id)
        day = lo
        while day <= hi:
            offset = (day - self.start_date).days
            rng = np.random.default_rng(np.random.SeedSequence([self.config.seed, _TAG_PERF, day.toordinal()]))
            dow = (1.0, 1.02, 1.0, 0.98, 0.95, 0.85, 0.88)[day.weekday()]
            noise = rng.lognormal(-0.02, 0.2, size=len(ads))
            imps = rng.poisson(vol * dow * noise)
            ctr = ctr_by_epoch[self.rules_epoch(day)]
            if self.config.ctr_noise_sd > 0:
                nrng = np.random.default_rng(np.random.SeedSequence([self.config.seed, _TAG_NOISE, day.toordinal()]))
                z = np.log(ctr / (1 - ctr)) + nrng.normal(0.0, self.config.ctr_noise_sd, size=len(ads))
                ctr = 1.0 / (1.0 + np.exp(-z))
            clicks = rng.binomial(imps, ctr)
            convs = rng.binomial(clicks, cvr)
            cost = np.rint(clicks * cpc * rng.lognormal(0.0, 0.1, size=len(ads)) * 1e6).astype(np.int64)
            active = (start_day <= offset) & (offset <= end_day)
            ds = day.isoformat()
            for i in order:
                if active[i]:
                    rows.append({"date": ds, "ad_id": ads[i].ad_id, "impressions": int(imps[i]),
                                 "clicks": int(clicks[i]), "conversions": int(convs[i]),
                                 "cost_micros": int(cost[i])})
            day += dt.timedelta(days=1)
        return rows

    # ---- ground truth (never served over HTTP) -------------------------------------------------

    def true_ctr_texts(self, ad_group_id: str, h1: str, h2: str, h3: str, d1: str, d2: str,
                       on: dt.date | None = None) -> float:
        """True CTR of showing these texts in ad group ``ad_group_id`` (h3 may be "") under the
        rules in force on day ``on`` (None: the day after end_date, see rules_epoch)."""
        ag = self._ag(ad_group_id)
        t = _Truth.build(ag.base_logit, [h1, h2, h3], [d1, d2], ag.keyword, ag.industry,
                         ad_group_id, self.config.seed, self._rules[self.rules_epoch(on)])
        # Same assembly code as the vectorised path, so both agree bit for bit.
        return float(t.ctr(np.array([[0, 1, 2, 0, 1]]))[0])

    def hidden_quality_terms(self, ad_group_id: str, text: str, positions: Sequence[int],
                             on: dt.date | None = None) -> tuple[float, ...]:
        """The log-odds the hidden per-asset quality of `text` adds in each of `positions`
        (0-2 headlines, 3-4 descriptions) under the rules in force on day ``on``: what no text
        feature can see and only delivery tells. For evaluation (how much of the gap the served
        history could close), never for a model."""
        rules = self._rules[self.rules_epoch(on)]
        if text == "":
            return tuple(0.0 for _ in positions)
        q = _quality(self.config.seed, ad_group_id, text, rules.quality_sd)
        return tuple(_TERM_SCALE * _QUALITY_SCALE[p] * q * rules.visibility[p] for p in positions)

    def hidden_quality_combinations(self, ad_group_id: str, combos: np.ndarray, on: dt.date | None = None,
                                    seen: tuple[set, set] | None = None) -> np.ndarray:
        """Per (N, 5) pool-index combination (as true_ctr_combinations), the log-odds its assets'
        hidden quality adds in their slots; with `seen` = (headline texts, description texts), only
        those assets' (e.g. the ones an ad group served). For evaluation, never for a model."""
        heads, descs = self.pool(ad_group_id)

        def terms(assets, texts, positions):  # a last column of zeros for index -1 (no asset)
            out = np.zeros((len(positions), len(assets) + 1))
            for i, a in enumerate(assets):
                if texts is None or a["text"] in texts:
                    out[:, i] = self.hidden_quality_terms(ad_group_id, a["text"], positions, on)
            return out

        h = terms(heads, None if seen is None else seen[0], (0, 1, 2))
        d = terms(descs, None if seen is None else seen[1], (3, 4))
        c = np.asarray(combos, dtype=np.intp)
        return h[0, c[:, 0]] + h[1, c[:, 1]] + h[2, c[:, 2]] + d[0, c[:, 3]] + d[1, c[:, 4]]

    def text_rules_logit_combinations(self, ad_group_id: str, combos: np.ndarray,
                                      on: dt.date | None = None) -> np.ndarray:
        """True log-odds of (N, 5) pool-index combinations (as true_ctr_combinations) without the
        hidden quality of their assets: what a perfect text model would say, the ad group's level
        included. For evaluation (how much of the gap is the text model), never for a model."""
        c = np.asarray(combos, dtype=np.intp)
        return self._truth_of(ad_group_id, self.rules_epoch(on)).logit(c) - self.hidden_quality_combinations(
            ad_group_id, c, on)

    def text_rules_logit_ads(self, ad_ids: Sequence[str], on: dt.date | None = None) -> np.ndarray:
        """The same for served ads (by ad_id): their true log-odds less their texts' hidden quality."""
        rows = {r["ad_id"]: r for r in self._ads_rows}
        out = np.empty(len(ad_ids))
        for k, ad_id in enumerate(ad_ids):
            row = rows[ad_id]
            ctr = self.true_ctr_ad(ad_id, on)
            z = math.log(ctr / (1.0 - ctr))
            for p, col in enumerate(("headline_1", "headline_2", "headline_3", "description_1", "description_2")):
                z -= self.hidden_quality_terms(row["ad_group_id"], row[col], (p,), on)[0]
            out[k] = z
        return out

    def true_ctr_combinations(self, ad_group_id: str, combos: np.ndarray, on: dt.date | None = None) -> np.ndarray:
        """True CTR of (N, 5) pool-index combinations (H1, H2, H3 into headlines, D1, D2 into
        descriptions, in ``pool()`` order) on day ``on`` (None: the day after end_date). An H3 of
        -1 means no third headline (as headline_3 "")."""
        return self._truth_of(ad_group_id, self.rules_epoch(on)).ctr(combos)

    def true_ctr_ad(self, ad_id: str, on: dt.date | None = None) -> float:
        ad = self._served_by_id[ad_id]
        return ad.true_ctr_drifted if self.rules_epoch(on) else ad.true_ctr

    def valid_combinations(self, ad_group_id: str) -> np.ndarray:
        """All valid (N, 5) int32 combinations of a pool: pins, width limits, distinct assets."""
        ag = self._ag(ad_group_id)
        h = _ordered_distinct(_allowed(ag.headlines, HEADLINE_PINS))
        d = _ordered_distinct(_allowed(ag.descriptions, DESCRIPTION_PINS))
        return np.hstack([np.repeat(h, len(d), axis=0), np.tile(d, (len(h), 1))]).astype(np.int32)

    def truth_summary(self, ad_group_id: str, on: dt.date | None = None) -> dict:
        """Best and mean true CTR over the valid combinations (for evaluation and sanity checks)."""
        combos = self.valid_combinations(ad_group_id)
        ctr = self.true_ctr_combinations(ad_group_id, combos, on)
        best = int(np.argmax(ctr))
        return {"ad_group_id": ad_group_id, "n_combinations": int(len(combos)),
                "mean_ctr": float(ctr.mean()), "best_ctr": float(ctr[best]),
                "best_combination": combos[best].tolist()}

    # ---- helpers -------------------------------------------------------------------------------

    def _ag(self, ad_group_id: str) -> AdGroup:
        try:
            return self._ag_by_id[ad_group_id]
        except KeyError:
            raise KeyError(f"unknown ad_group_id {ad_group_id!r}") from None

    def _truth_of(self, ad_group_id: str, epoch: int) -> _Truth:
        t = self._truth.get((ad_group_id, epoch))
        if t is None:
            ag = self._ag(ad_group_id)
            t = _Truth.build(ag.base_logit, [a.text for a in ag.headlines], [a.text for a in ag.descriptions],
                             ag.keyword, ag.industry, ad_group_id, self.config.seed, self._rules[epoch])
            self._truth[(ad_group_id, epoch)] = t
        return t

    def _ad_row(self, ad: ServedAd) -> dict:
        ag = self._ag_by_id[ad.ad_group_id]
        h = [ag.headlines[i].text if i >= 0 else "" for i in ad.combo[:3]]
        d = [ag.descriptions[i].text for i in ad.combo[3:]]
        return {"ad_id": ad.ad_id, "ad_group_id": ag.ad_group_id, "campaign_id": ag.campaign_id,
                "industry": ag.industry, "keyword": ag.keyword, "headline_1": h[0], "headline_2": h[1],
                "headline_3": h[2], "description_1": d[0], "description_2": d[1]}

    @staticmethod
    def _asset_row(ag: AdGroup, a: Asset) -> dict:
        return {"ad_group_id": ag.ad_group_id, "asset_id": a.asset_id, "asset_type": a.asset_type,
                "text": a.text, "pinned_field": a.pinned_field}
