"""What leaves for the ad platform and what comes back: submitted creatives, the upload file, and
the delivery rows joined by tracking id."""

from __future__ import annotations

import os
from typing import Iterable, Mapping, Sequence

TEXT_COLUMNS = ("headline_1", "headline_2", "headline_3", "description_1", "description_2")
DELIVERY_COLUMNS = ["date", "tracking_id", "ad_group_id", "impressions", "clicks"]


def creatives_to_submit(assignments: Sequence[Mapping]) -> list[dict]:
    """The API's creative objects of an experiment's assignment rows."""
    return [{"tracking_id": a["tracking_id"], "ad_group_id": a["ad_group_id"],
             **{c: a[c] for c in TEXT_COLUMNS}, "traffic_share": float(a["traffic_share"]),
             "start_date": str(a["start_date"])[:10]} for a in assignments]


def write_google_ads_editor_csv(folder: str, rows: Sequence[Mapping], campaigns: Mapping[str, str],
                                final_url: str) -> str:
    """The upload file of an experiment's arms (experiments.export), written atomically."""
    from experiments.export import GOOGLE_ADS_EDITOR_COLUMNS, google_ads_editor_rows, to_csv

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "google_ads_editor.csv")
    with open(path + ".tmp", "w", encoding="utf-8", newline="") as f:
        f.write(to_csv(google_ads_editor_rows(rows, campaigns, final_url), GOOGLE_ADS_EDITOR_COLUMNS))
    os.replace(path + ".tmp", path)
    return path


def delivery_frame(rows: Iterable[Mapping]):
    """Delivery rows (date, tracking_id, ad_group_id, impressions, clicks) as a typed frame; rows
    with clicks outside 0..impressions are refused as a whole (the platform sent nonsense)."""
    import pandas as pd

    frame = pd.DataFrame(list(rows), columns=DELIVERY_COLUMNS)
    frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d").dt.date
    frame["impressions"] = frame["impressions"].astype("int64")
    frame["clicks"] = frame["clicks"].astype("int64")
    bad = frame[(frame.clicks < 0) | (frame.clicks > frame.impressions)]
    if len(bad):
        raise ValueError(f"{len(bad)} delivery rows have clicks outside 0..impressions "
                         f"(first: {bad.iloc[0].to_dict()}); ask the platform to restate them")
    return frame
