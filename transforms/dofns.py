"""Beam DoFns wrapping the pure core; the only module in transforms/ that imports apache_beam.

Training (FeaturizeServedAd) and scoring (EnumerateAndFeaturize) share one code path
(featurize_assets + combination_features), one SentencePiece model file and, given the same
term_weights (the model bundle's), one reading of the lexicon: no train/serve skew.
"""
from __future__ import annotations

import logging
import time

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.combinations import build_ad_group_combinations
from transforms.features import featurize_served_ad
from transforms.tokenizer import load_processor

log = logging.getLogger(__name__)

NAMESPACE = "adcombo.transforms"
INVALID_TAG = "invalid"  # optional dead-letter output of EnumerateAndFeaturize


def local_copy(path: str) -> str:
    """A local file for `path`; remote ones (gs://) are copied once per worker process."""
    if "://" not in path or path.startswith("file://"):
        return path
    import hashlib
    import os
    import shutil
    import tempfile

    from apache_beam.io.filesystems import FileSystems

    dest = os.path.join(tempfile.gettempdir(), "adcombo-" + hashlib.sha256(path.encode()).hexdigest()[:16])
    if not os.path.exists(dest):
        with FileSystems.open(path, compression_type="uncompressed") as src, open(dest + ".part", "wb") as out:
            shutil.copyfileobj(src, out)
        os.replace(dest + ".part", dest)
    return dest


class FeaturizeServedAd(beam.DoFn):
    """raw.ads row (dict) -> same dict plus "features": float32 (F,) of its fixed combination.
    term_weights: the model's (transforms.features.TermWeights; None: every lexicon match counts 1)."""

    def __init__(self, tokenizer_path: str, term_weights=None):
        self._tokenizer_path = tokenizer_path
        self._term_weights = term_weights
        self._sp = None
        self._featurized = Metrics.counter(NAMESPACE, "served_ads_featurized")

    def setup(self):
        # Once per DoFn instance (i.e. per worker thread), never per element.
        self._sp = load_processor(local_copy(self._tokenizer_path))

    def process(self, ad: dict):
        out = dict(ad)
        out["features"] = featurize_served_ad(ad, self._sp, self._term_weights)
        self._featurized.inc()
        yield out


class EnumerateAndFeaturize(beam.DoFn):
    """(ad_group_id, {"keyword", "industry", "assets": [...]}) -> (ad_group_id, AdGroupCombinations).

    One element per ad group: combinations are a numpy block, assets are featurised once.
    Ad groups without a valid combination yield nothing on the main output (counted, logged).
    With emit_invalid=True, ad groups with an invalid pin go to the INVALID_TAG output as
    (ad_group_id, reason) instead of failing the bundle; otherwise they are counted, logged and
    skipped. term_weights: the model's, as for FeaturizeServedAd.
    """

    def __init__(self, tokenizer_path: str, emit_invalid: bool = False, term_weights=None):
        self._tokenizer_path = tokenizer_path
        self._term_weights = term_weights
        self._emit_invalid = emit_invalid
        self._sp = None
        self._ad_groups = Metrics.counter(NAMESPACE, "ad_groups")
        self._enumerated = Metrics.counter(NAMESPACE, "combinations_enumerated")
        self._rejected = Metrics.counter(NAMESPACE, "combinations_rejected")
        self._empty = Metrics.counter(NAMESPACE, "ad_groups_without_valid_combination")
        self._invalid = Metrics.counter(NAMESPACE, "ad_groups_invalid_pin")
        self._featurize_ms = Metrics.distribution(NAMESPACE, "featurize_ms")

    def setup(self):
        self._sp = load_processor(local_copy(self._tokenizer_path))

    def process(self, element):
        ad_group_id, group = element
        self._ad_groups.inc()
        start = time.perf_counter()
        try:
            result = build_ad_group_combinations(
                group.get("keyword") or "", group.get("assets") or [], self._sp,
                industry=group.get("industry") or "", ad_group_id=ad_group_id, term_weights=self._term_weights)
        except ValueError as exc:
            self._invalid.inc()
            log.warning("ad group %s skipped: %s", ad_group_id, exc)
            if self._emit_invalid:
                yield beam.pvalue.TaggedOutput(INVALID_TAG, (ad_group_id, str(exc)))
            return
        self._featurize_ms.update(int(round((time.perf_counter() - start) * 1000)))
        # enumerated + rejected == unconstrained count, summed over all ad groups
        self._enumerated.inc(len(result))
        self._rejected.inc(result.n_rejected)
        if len(result) == 0:
            self._empty.inc()
            log.warning("ad group %s has no valid combination (pins/width limits exclude all)",
                        ad_group_id)
            return
        yield ad_group_id, result
