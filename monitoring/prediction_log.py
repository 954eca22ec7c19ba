"""The prediction log: what the production model predicted for every live creative, when it scored.

Each scoring run appends one batch: the predicted CTR of every served ad (raw.ads) and of every
arm of the running experiment, by the model version that published the scores, with the first day
the predictions apply. Live accuracy (monitoring.live_accuracy) later compares these numbers with
the delivered CTR; nothing is ever recomputed with a newer model.

Creatives are predicted exactly as production scores them: a served ad's features from its own
texts and keyword (as the training set builds them), an experiment arm's from its texts and its ad
group's keyword by the one keyword rule (as the scorer builds them), then the booster plus the
per-asset history effects (monitoring.report.served_ad_scores). A production arm's prediction is
therefore its published top-1 score.
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

PREDICTION_LOG_TABLE = "monitoring.prediction_log"
PREDICTION_LOG_SCHEMA = [("valid_from", "DATE"), ("predicted_at", "TIMESTAMP"), ("model_version", "STRING"),
                         ("source", "STRING"), ("creative_id", "STRING"), ("ad_group_id", "STRING"),
                         ("arm", "STRING"), ("predicted_ctr", "FLOAT64")]
SERVED_AD, EXPERIMENT = "served_ad", "experiment"
TEXT_COLUMNS = ("headline_1", "headline_2", "headline_3", "description_1", "description_2")


def live_creatives(ad_rows: Sequence[Mapping], assignment_rows: Sequence[Mapping] = ()) -> list[dict]:
    """Served ads and experiment arms as creatives: source, creative_id (ad_id or tracking id),
    ad_group_id, arm, keyword and the five texts."""
    from transforms.combinations import ad_group_keywords

    out = [{"source": SERVED_AD, "creative_id": str(a["ad_id"]), "ad_group_id": str(a["ad_group_id"]), "arm": "",
            "keyword": a.get("keyword") or "", **{c: a.get(c) or "" for c in TEXT_COLUMNS}}
           for a in sorted(ad_rows, key=lambda a: str(a["ad_id"]))]
    keywords = ad_group_keywords(ad_rows)
    for r in sorted(assignment_rows, key=lambda r: str(r["tracking_id"])):
        ag = str(r["ad_group_id"])
        out.append({"source": EXPERIMENT, "creative_id": str(r["tracking_id"]), "ad_group_id": ag,
                    "arm": str(r.get("arm") or ""), "keyword": keywords.get(ag, ("", ""))[0],
                    **{c: r.get(c) or "" for c in TEXT_COLUMNS}})
    return out


def predict_creatives(model, creatives: Sequence[Mapping]) -> np.ndarray:
    """Predicted CTR of each creative by a models.scoring.ScoringModel, as production scores it."""
    from monitoring.report import served_ad_scores
    from transforms.features import featurize_served_ads

    if not creatives:
        return np.empty(0)
    X = featurize_served_ads(list(creatives), model.sp, model.term_weights)
    return served_ad_scores(model, X, list(creatives))


def prediction_batch(model, creatives: Sequence[Mapping], valid_from: dt.date,
                     predicted_at: dt.datetime) -> pd.DataFrame:
    """One batch of the log (PREDICTION_LOG_SCHEMA columns)."""
    predicted = predict_creatives(model, creatives)
    return pd.DataFrame({
        "valid_from": [valid_from] * len(creatives),
        "predicted_at": [predicted_at] * len(creatives),
        "model_version": [model.version] * len(creatives),
        "source": [c["source"] for c in creatives],
        "creative_id": [c["creative_id"] for c in creatives],
        "ad_group_id": [c["ad_group_id"] for c in creatives],
        "arm": [c["arm"] for c in creatives],
        "predicted_ctr": predicted.astype(np.float64),
    }, columns=[c for c, _ in PREDICTION_LOG_SCHEMA])
