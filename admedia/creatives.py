"""Creatives submitted for an experiment, and their simulated delivery.

The simulator accepts creatives labelled with a tracking id and serves them from the world's
ground truth on the days after submission (from `start_date`, by default the day after the
world's last day). The store is a JSON file so that it outlives one server process: the
embedded simulator is started per ingestion step, and delivery is ingested in a later run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import zlib
from dataclasses import asdict, dataclass

import numpy as np

TEXT_FIELDS = ("headline_1", "headline_2", "headline_3", "description_1", "description_2")
_TAG_CREATIVE = 0xC2EA


@dataclass(frozen=True)
class Creative:
    tracking_id: str
    ad_group_id: str
    headline_1: str
    headline_2: str
    headline_3: str
    description_1: str
    description_2: str
    traffic_share: float
    start_date: str  # YYYY-MM-DD, first day served

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(getattr(self, f) for f in TEXT_FIELDS)


def parse_creative(item: dict, world, default_start: dt.date) -> Creative:
    """A submitted creative, or ValueError with the reason it is refused."""
    if not isinstance(item, dict):
        raise ValueError("a creative must be a JSON object")
    missing = [f for f in ("tracking_id", "ad_group_id", *TEXT_FIELDS) if f != "headline_3" and not item.get(f)]
    if missing:
        raise ValueError(f"missing fields: {', '.join(missing)}")
    if item["ad_group_id"] not in set(world.ad_group_ids()):
        raise ValueError(f"unknown ad group {item['ad_group_id']}")
    share = float(item.get("traffic_share", 1.0))
    if not 0 < share <= 1:
        raise ValueError(f"traffic_share must be in (0, 1], got {share}")
    start = item.get("start_date") or default_start.isoformat()
    dt.date.fromisoformat(start)  # raises ValueError on a bad date
    return Creative(
        tracking_id=str(item["tracking_id"]), ad_group_id=str(item["ad_group_id"]),
        **{f: str(item.get(f) or "") for f in TEXT_FIELDS}, traffic_share=share, start_date=start,
    )


class CreativeStore:
    def __init__(self, path: str | None = None):
        self.path = path
        self._lock = threading.Lock()
        self._items: dict[str, Creative] = {}
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                self._items = {c["tracking_id"]: Creative(**c) for c in json.load(f)}

    def all(self) -> list[Creative]:
        with self._lock:
            return sorted(self._items.values(), key=lambda c: c.tracking_id)

    def submit(self, world, items: list, default_start: dt.date) -> tuple[list[str], list[dict]]:
        """Accept valid creatives (idempotent per tracking id); return (accepted ids, rejections)."""
        accepted, rejected = [], []
        with self._lock:
            for item in items:
                try:
                    creative = parse_creative(item, world, default_start)
                    known = self._items.get(creative.tracking_id)
                    if known is not None and known != creative:
                        raise ValueError(f"tracking id {creative.tracking_id} is already used by another creative")
                    self._items[creative.tracking_id] = creative
                    accepted.append(creative.tracking_id)
                except (ValueError, TypeError) as exc:
                    rejected.append({"item": item, "reason": str(exc)})
            self._save()
        return accepted, rejected

    def _save(self) -> None:
        if not self.path:
            return
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        tmp = f"{self.path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump([asdict(c) for c in self._items.values()], f, ensure_ascii=False, indent=1)
        os.replace(tmp, self.path)


def delivery(world, creatives: list[Creative], start: dt.date, end: dt.date) -> list[dict]:
    """Daily impressions and clicks of each creative from its start date, by date then id.

    An ad group's experiment traffic is its served-ad volume times the number of arms' shares;
    clicks are drawn from the true CTR of exactly the creative's texts under the rules in force
    that day (a drifting world changes them on its drift date, as for served ads), moved by the
    day's noise in worlds with ctr_noise_sd. Each (tracking id, date) has its own seeded draw, so
    a row never depends on the range asked for.
    """
    rows = []
    truth: dict[tuple[str, int], float] = {}  # (tracking id, rules epoch) -> true CTR
    noise_sd = world.config.ctr_noise_sd
    day = start
    while day <= end:
        for c in creatives:
            if dt.date.fromisoformat(c.start_date) > day:
                continue
            seed = np.random.SeedSequence([world.config.seed, _TAG_CREATIVE, zlib.crc32(c.tracking_id.encode()), day.toordinal()])
            rng = np.random.default_rng(seed)
            volume = world.ad_group_volume(c.ad_group_id) * world.config.served_ads_per_group * c.traffic_share
            imps = int(rng.poisson(volume))
            key = (c.tracking_id, world.rules_epoch(day))
            if key not in truth:
                truth[key] = world.true_ctr_texts(c.ad_group_id, *c.texts, on=day)
            ctr = truth[key]
            if noise_sd > 0:  # drawn after the impressions: worlds without noise keep their draws
                z = np.log(ctr / (1 - ctr)) + rng.normal(0.0, noise_sd)
                ctr = float(1.0 / (1.0 + np.exp(-z)))
            clicks = int(rng.binomial(imps, ctr))
            rows.append({"date": day.isoformat(), "tracking_id": c.tracking_id, "ad_group_id": c.ad_group_id,
                         "impressions": imps, "clicks": clicks})
        day += dt.timedelta(days=1)
    return rows
