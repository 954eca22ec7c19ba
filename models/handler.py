"""Beam RunInference model handler for an adcombo LightGBM bundle.

An example is either one ad group's block of combinations (anything with an `X` feature matrix)
or a single feature row. Blocks are predicted one call each; single rows in a batch are stacked
into one call, which is how a one-element-per-combination pipeline would use it.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Optional, Sequence

import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from models.bundle import ModelBundle, load_bundle


class LightGBMBundleHandler(ModelHandler[Any, PredictionResult, ModelBundle]):
    def __init__(self, bundle_path: str, num_threads: int = 1, **batching):
        # One thread per prediction call: Beam already runs one worker per core.
        super().__init__(**batching)
        self.bundle_path = bundle_path
        self.num_threads = num_threads
        self._block_ms = Metrics.distribution("adcombo", "predict_block_ms")

    def load_model(self) -> ModelBundle:
        from transforms.features import feature_spec

        # Refuses a bundle whose feature spec differs from the code's (train/serve skew).
        return load_bundle(self.bundle_path, expected_spec=feature_spec())

    def _predict(self, model: ModelBundle, X: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        out = model.booster.predict(X, raw_score=True, num_threads=self.num_threads)
        self._block_ms.update(int((time.perf_counter() - start) * 1000))
        return out

    def run_inference(
        self, batch: Sequence[Any], model: ModelBundle, inference_args: Optional[dict] = None
    ) -> Iterable[PredictionResult]:
        if batch and all(isinstance(e, np.ndarray) and e.ndim == 1 for e in batch):
            scores = self._predict(model, np.stack(batch))
            return [PredictionResult(e, s, model.version) for e, s in zip(batch, scores)]
        return [PredictionResult(e, self._predict(model, e.X), model.version) for e in batch]

    def get_num_bytes(self, batch: Sequence[Any]) -> int:
        return sum(int(getattr(e, "X", e).nbytes) for e in batch)

    def get_metrics_namespace(self) -> str:
        return "adcombo_lightgbm"
