"""Beam RunInference model handler for an adcombo LightGBM bundle.

The model (bundle + PairwiseScorer, with its decomposability check) is loaded once per worker
process: RunInference shares it between the worker's threads.

An example is either
- one ad group (transforms.combinations.AdGroupCombinations): the result is a
  models.pairwise.ScoredGroup with the exact top K (pair tables when the model decomposes,
  Booster.predict blocks otherwise) of the booster's raw score plus the bundle's per-asset history
  effects for that ad group (models.asset_effects; none when it has no history), or
- a single feature row (1-D array): rows of a batch are stacked into one Booster.predict call,
  which is how the one-element-per-combination approach uses it (the benchmark's baseline).
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from models.bundle import ModelBundle, load_bundle

log = logging.getLogger(__name__)
NAMESPACE = "adcombo"


@dataclass
class LoadedModel:
    bundle: ModelBundle
    scorer: Any  # models.pairwise.PairwiseScorer

    @property
    def version(self) -> str:
        return self.bundle.version


class LightGBMBundleHandler(ModelHandler[Any, PredictionResult, LoadedModel]):
    def __init__(self, bundle_path: str, num_threads: int = 1, top_k: int = 5,
                 keep_all_scores: bool = False, force_predict: bool = False, **batching):
        # One thread per prediction call: Beam already runs one worker per core.
        super().__init__(**batching)
        self.bundle_path = bundle_path
        self.num_threads = num_threads
        self.top_k = top_k
        self.keep_all_scores = keep_all_scores
        self.force_predict = force_predict
        self._block_ms = Metrics.distribution(NAMESPACE, "score_block_ms")
        self._scored = Metrics.counter(NAMESPACE, "combinations_scored")
        self._model_rows = Metrics.counter(NAMESPACE, "model_rows")
        self._pairwise = Metrics.counter(NAMESPACE, "ad_groups_pairwise")
        self._fallback = Metrics.counter(NAMESPACE, "ad_groups_predict")
        self._with_history = Metrics.counter(NAMESPACE, "ad_groups_with_asset_history")

    def load_model(self) -> LoadedModel:
        from models.pairwise import PairwiseScorer
        from models.staging import local_bundle
        from transforms.features import feature_spec

        # Refuses a bundle whose feature spec differs from the code's (train/serve skew).
        bundle = load_bundle(local_bundle(self.bundle_path), expected_spec=feature_spec())
        scorer = PairwiseScorer(bundle.booster, bundle.feature_names, num_threads=self.num_threads,
                                force_predict=self.force_predict)
        log.info("model %s: %s (%d trees, %d leaves); scoring by %s; history effects for %d assets",
                 bundle.version, scorer.check.reason, scorer.check.n_trees, scorer.check.n_leaves,
                 "pair tables" if scorer.decomposable else "Booster.predict blocks", len(bundle.effects or ()))
        return LoadedModel(bundle, scorer)

    def _predict_rows(self, model: LoadedModel, X: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        out = model.bundle.booster.predict(X, raw_score=True, num_threads=self.num_threads)
        self._block_ms.update(int((time.perf_counter() - start) * 1000))
        self._scored.inc(len(X))
        self._model_rows.inc(len(X))
        return out

    def _score_group(self, model: LoadedModel, group) -> Any:
        seed = zlib.crc32("\x1f".join(group.headline_ids + group.description_ids).encode("utf-8"))
        effects = model.bundle.effects.for_pool(group.ad_group_id, group.headline_texts, group.description_texts) \
            if model.bundle.effects is not None else None
        if effects is not None:
            self._with_history.inc()
        out = model.scorer.score(group, self.top_k, keep_all=self.keep_all_scores, seed=seed, effects=effects)
        self._block_ms.update(int(round(out.seconds * 1000)))
        self._scored.inc(out.n_scored)
        self._model_rows.inc(out.model_rows)
        (self._pairwise if out.method == "pairwise" else self._fallback).inc()
        return out

    def run_inference(
        self, batch: Sequence[Any], model: LoadedModel, inference_args: Optional[dict] = None
    ) -> Iterable[PredictionResult]:
        if batch and all(isinstance(e, np.ndarray) and e.ndim == 1 for e in batch):
            scores = self._predict_rows(model, np.stack(batch))
            return [PredictionResult(e, s, model.version) for e, s in zip(batch, scores)]
        return [PredictionResult(e, self._score_group(model, e), model.version) for e in batch]

    def get_num_bytes(self, batch: Sequence[Any]) -> int:
        # Ad groups are small until scored (per-asset features); rows are their own bytes.
        return sum(int(e.nbytes) if isinstance(e, np.ndarray) else 64 * max(len(e), 1) for e in batch)

    def get_metrics_namespace(self) -> str:
        return "adcombo_lightgbm"
