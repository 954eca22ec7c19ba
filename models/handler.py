"""Beam RunInference model handler for an adcombo LightGBM bundle.

The model (bundle, SentencePiece processor and PairwiseScorer with its decomposability check) is
loaded once per worker process: RunInference shares it between the worker's threads.

An example is either
- one ad group's pool (models.scoring.PoolInput): the result is a models.scoring.PoolScores from
  `score_pool`, the one scoring path (featurise, exact scores, per-asset history effects, top K),
  or a reason when the pool cannot be scored; or
- a single feature row (1-D array): rows of a batch are stacked into one Booster.predict call,
  which is how the one-element-per-combination approach uses it (the benchmark's baseline).
"""

from __future__ import annotations

import logging
import resource
import time
from typing import Any, Iterable, Optional, Sequence

import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.ml.inference import base as beam_inference
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from models.bundle import load_bundle
from models.insight_options import InsightOptions
from models.scoring import PoolScores, ScoringModel, score_pool

log = logging.getLogger(__name__)
# Beam imports `resource` in the same try block as its ModelManager, which needs torch; without
# torch it sets resource = None and logs "Resource module is not available" on every model load
# (and reports 0 bytes). The module is there on Linux: give it back.
if getattr(beam_inference, "resource", None) is None:
    beam_inference.resource = resource
progress = logging.getLogger("adcombo.progress")  # relayed to the orchestrator (pipelines.options.relay_progress)
NAMESPACE = "adcombo"
PROGRESS_SECONDS = 10.0


class LightGBMBundleHandler(ModelHandler[Any, PredictionResult, ScoringModel]):
    def __init__(self, bundle_path: str, num_threads: int = 1, top_k: int = 5,
                 keep_all_scores: bool = False, force_predict: bool = False,
                 insights: InsightOptions | None = None, **batching):
        # One thread per prediction call: Beam already runs one worker per core.
        super().__init__(**batching)
        self.bundle_path = bundle_path
        self.num_threads = num_threads
        self.top_k = top_k
        self.keep_all_scores = keep_all_scores
        self.force_predict = force_predict
        self.insights = insights  # models.insight_options: diverse top-K, asset values, explanations
        self._block_ms = Metrics.distribution(NAMESPACE, "score_block_ms")
        self._scored = Metrics.counter(NAMESPACE, "combinations_scored")
        self._model_rows = Metrics.counter(NAMESPACE, "model_rows")
        self._pairwise = Metrics.counter(NAMESPACE, "ad_groups_pairwise")
        self._fallback = Metrics.counter(NAMESPACE, "ad_groups_predict")
        self._with_history = Metrics.counter(NAMESPACE, "ad_groups_with_asset_history")
        self._ad_groups = Metrics.counter(NAMESPACE, "ad_groups")
        self._unscored = Metrics.counter(NAMESPACE, "ad_groups_unscored")
        self._rejected = Metrics.counter(NAMESPACE, "combinations_rejected")
        self._featurize_ms = Metrics.distribution(NAMESPACE, "featurize_ms")
        self._progress = None  # (started, last line, ad groups, combinations) of this worker

    def _report_progress(self, combinations: int) -> None:
        """A line every PROGRESS_SECONDS per worker: ad groups and combinations so far, and the rate."""
        now = time.perf_counter()
        if self._progress is None:
            self._progress = [now, now, 0, 0]
        p = self._progress
        p[2] += 1
        p[3] += combinations
        if now - p[1] >= PROGRESS_SECONDS:
            p[1] = now
            elapsed = max(now - p[0], 1e-9)
            progress.info("adcombo progress: worker scored %d ad groups, %d combinations in %.0f s "
                          "(%.1f ad groups/s, %.0f combinations/s)", p[2], p[3], elapsed, p[2] / elapsed,
                          p[3] / elapsed)

    def load_model(self) -> ScoringModel:
        from models.staging import local_bundle
        from transforms.features import feature_spec

        # Refuses a bundle whose feature spec differs from the code's (train/serve skew).
        bundle = load_bundle(local_bundle(self.bundle_path), expected_spec=feature_spec())
        model = ScoringModel.from_bundle(bundle, force_predict=self.force_predict, num_threads=self.num_threads)
        check = model.scorer.check
        log.info("model %s: %s (%d trees, %d leaves); scoring by %s; history effects for %d assets",
                 bundle.version, check.reason, check.n_trees, check.n_leaves,
                 "pair tables" if model.scorer.decomposable else "Booster.predict blocks", len(bundle.effects or ()))
        return model

    def _predict_rows(self, model: ScoringModel, X: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        out = model.booster.predict(X, raw_score=True, num_threads=self.num_threads)
        self._block_ms.update(int((time.perf_counter() - start) * 1000))
        self._scored.inc(len(X))
        self._model_rows.inc(len(X))
        return out

    def _score_pool(self, model: ScoringModel, pool) -> PoolScores:
        out = score_pool(model, pool, self.top_k, keep_all=self.keep_all_scores, insights=self.insights)
        self._ad_groups.inc()
        self._report_progress(out.scored.n_scored if out.ok else 0)
        self._featurize_ms.update(int(round(out.featurize_seconds * 1000)))
        if out.group is not None:
            self._rejected.inc(out.group.n_rejected)
        if not out.ok:
            self._unscored.inc()
            log.warning("ad group %s not scored: %s", out.ad_group_id, out.reason)
            return out
        self._with_history.inc(out.with_history)
        scored = out.scored
        self._block_ms.update(int(round(scored.seconds * 1000)))
        self._scored.inc(scored.n_scored)
        self._model_rows.inc(scored.model_rows)
        (self._pairwise if scored.method == "pairwise" else self._fallback).inc()
        return out

    def run_inference(
        self, batch: Sequence[Any], model: ScoringModel, inference_args: Optional[dict] = None
    ) -> Iterable[PredictionResult]:
        if batch and all(isinstance(e, np.ndarray) and e.ndim == 1 for e in batch):
            scores = self._predict_rows(model, np.stack(batch))
            return [PredictionResult(e, s, model.version) for e, s in zip(batch, scores)]
        return [PredictionResult(e, self._score_pool(model, e), model.version) for e in batch]

    def get_num_bytes(self, batch: Sequence[Any]) -> int:
        # Pools are small until scored (texts of a few dozen assets); rows are their own bytes.
        return sum(int(e.nbytes) if isinstance(e, np.ndarray) else 64 * max(len(getattr(e, "assets", ())), 1)
                   for e in batch)

    def get_metrics_namespace(self) -> str:
        return "adcombo_lightgbm"
