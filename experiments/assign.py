"""Deterministic A/B/n arms per ad group.

Every ad group in an experiment serves one creative per arm, side by side, with traffic split
by the arms' shares (the platform rotates the ads). Comparing arms inside the same ad groups
keeps ad-group differences (industry, volume) out of the lift. Everything random is drawn from
a hash of (experiment, salt, ad group), so a rerun produces the same arms and tracking ids.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

CONTROL = "control"
PRODUCTION = "production"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class ArmShares:
    production: float = 0.5
    control: float = 0.5
    challenger: float = 0.0

    def normalised(self, with_challenger: bool) -> dict[str, float]:
        shares = {PRODUCTION: self.production, CONTROL: self.control}
        if with_challenger and self.challenger > 0:
            shares[CHALLENGER] = self.challenger
        if any(v < 0 for v in shares.values()) or sum(shares.values()) <= 0:
            raise ValueError(f"arm shares must be non-negative with a positive sum, got {shares}")
        if shares[CONTROL] <= 0:
            raise ValueError("the control arm needs a positive share: lift is measured against it")
        total = sum(shares.values())
        return {arm: v / total for arm, v in shares.items()}


def stable_hash(*parts: str) -> bytes:
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).digest()


def default_experiment_id(start, model_digest: str) -> str:
    """exp-YYYYMMDD-<model digest>: the same model (models.bundle.scoring_digest) starting on the
    same day is the same experiment, so a rerun replaces its rows with the same arms and tracking
    ids; a model trained alike on the same data gives the same experiment in every run."""
    return f"exp-{start:%Y%m%d}-{model_digest[:12]}"


def tracking_id(experiment: str, salt: str, ad_group_id: str, arm: str) -> str:
    """Short, stable id carried as an ad label; the same inputs always give the same id."""
    return "adc-" + stable_hash("tracking", experiment, salt, ad_group_id, arm).hex()[:16]


def control_index(experiment: str, salt: str, ad_group_id: str, n_valid: int) -> int:
    """Uniformly random valid combination for the control arm, reproducible from the hash."""
    if n_valid <= 0:
        raise ValueError(f"ad group {ad_group_id} has no valid combination to serve as control")
    seed = int.from_bytes(stable_hash("control", experiment, salt, ad_group_id)[:8], "little")
    return int(np.random.default_rng(seed).integers(n_valid))


@dataclass(frozen=True)
class Creative:
    """One arm's creative in one ad group: asset ids and texts of H1, H2, H3, D1, D2."""

    asset_ids: tuple[str, str, str, str, str]
    texts: tuple[str, str, str, str, str]
    score: float | None  # predicted CTR by the production model, if known


def assign_ad_group(
    experiment: str,
    salt: str,
    ad_group_id: str,
    arms: Mapping[str, Creative],
    shares: Mapping[str, float],
) -> list[dict]:
    """Assignment rows for one ad group: arm, share, tracking id and creative."""
    rows = []
    for arm in sorted(arms):
        creative = arms[arm]
        rows.append(
            {
                "experiment_id": experiment,
                "ad_group_id": ad_group_id,
                "arm": arm,
                "traffic_share": float(shares[arm]),
                "tracking_id": tracking_id(experiment, salt, ad_group_id, arm),
                "h1_asset_id": creative.asset_ids[0],
                "h2_asset_id": creative.asset_ids[1],
                "h3_asset_id": creative.asset_ids[2],
                "d1_asset_id": creative.asset_ids[3],
                "d2_asset_id": creative.asset_ids[4],
                "headline_1": creative.texts[0],
                "headline_2": creative.texts[1],
                "headline_3": creative.texts[2],
                "description_1": creative.texts[3],
                "description_2": creative.texts[4],
                "predicted_ctr": creative.score,
            }
        )
    return rows


def pick(combos: np.ndarray, ids: Sequence[Sequence[str]], texts: Sequence[Sequence[str]], i: int) -> tuple:
    """(asset ids, texts) of row i of an enumerated combos array (H indexes 0-2, D indexes 3-4)."""
    h_ids, d_ids = ids
    h_texts, d_texts = texts
    c = [int(v) for v in combos[i]]
    return (
        (h_ids[c[0]], h_ids[c[1]], h_ids[c[2]], d_ids[c[3]], d_ids[c[4]]),
        (h_texts[c[0]], h_texts[c[1]], h_texts[c[2]], d_texts[c[3]], d_texts[c[4]]),
    )


def challenger_best(model, pools) -> dict:
    """{ad_group_id: Creative} of the best combination under a challenger model, scored the one way
    production scores (models.scoring.score_pool: booster plus its per-asset history effects)."""
    from models.scoring import score_pool, sigmoid

    best = {}
    for pool in pools:
        out = score_pool(model, pool, 1)
        if out.ok:
            g = out.group
            ids, texts = pick(g.rows(out.scored.top_rows[:1]), (g.headline_ids, g.description_ids),
                              (g.headline_texts, g.description_texts), 0)
            best[pool.ad_group_id] = Creative(ids, texts, float(sigmoid(out.scored.top_raw[0])))
    return best


def experiment_rows(experiment: str, salt: str, shares: Mapping[str, float], top1: Sequence[Mapping],
                    pools: Mapping[str, Sequence[Mapping]], challenger: Mapping[str, Creative] | None = None
                    ) -> list[dict]:
    """Assignment rows of every ad group with a published best combination (top1: rows of
    serving.top_combinations with rank 1): the production arm serves it, the control arm a
    uniformly random valid combination of the same pool, the challenger arm its own best."""
    from transforms.combinations import Pool, product_rows

    rows = []
    for r in top1:
        ag = r["ad_group_id"]
        pool = Pool.from_assets(pools.get(ag, []))
        triples, pairs = pool.enumerate_factored()
        # Only the control's row is built: the pick is an index into the enumeration order.
        control = control_index(experiment, salt, ag, len(triples) * len(pairs))
        c_ids, c_texts = pick(product_rows(triples, pairs, [control]), (pool.headline_ids, pool.description_ids),
                              (pool.headline_texts, pool.description_texts), 0)
        arms = {
            PRODUCTION: Creative(
                tuple(r[k] for k in ("h1_asset_id", "h2_asset_id", "h3_asset_id", "d1_asset_id", "d2_asset_id")),
                tuple(r[k] for k in ("headline_1", "headline_2", "headline_3", "description_1", "description_2")),
                float(r["score"])),
            CONTROL: Creative(c_ids, c_texts, None),
        }
        if CHALLENGER in shares and challenger and ag in challenger:
            arms[CHALLENGER] = challenger[ag]
        rows.extend(assign_ad_group(experiment, salt, ag, arms, shares))
    return rows
