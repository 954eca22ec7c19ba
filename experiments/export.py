"""Files an advertiser uploads to serve the arms.

Google Ads Editor imports responsive search ads from CSV with one row per ad: up to 15
headlines and 4 descriptions with optional positions (pins) and labels. Each arm is exported
as an RSA whose three headlines and two descriptions are pinned to their positions, so the
platform serves exactly that combination, labelled with its tracking id.

The texts go to Google Ads exactly as written: they are not neutralised for spreadsheets (a
leading quote would become part of the ad). A text that a spreadsheet would run as a formula is
refused at import instead; if one reaches the export anyway, the export fails with a message
that names it (see experiments/csv_safety.py).
"""

from __future__ import annotations

import csv
import io
from typing import Iterable, Mapping

from experiments.csv_safety import refuse_formula_cells

GOOGLE_ADS_EDITOR_COLUMNS = [
    "Campaign", "Ad group", "Ad type",
    "Headline 1", "Headline 1 position", "Headline 2", "Headline 2 position",
    "Headline 3", "Headline 3 position",
    "Description 1", "Description 1 position", "Description 2", "Description 2 position",
    "Final URL", "Labels", "Status",
]


def google_ads_editor_rows(assignments: Iterable[Mapping], campaigns: Mapping[str, str], final_url: str) -> list[dict]:
    rows = []
    for a in assignments:
        rows.append(
            {
                "Campaign": campaigns.get(a["ad_group_id"], ""),
                "Ad group": a["ad_group_id"],
                "Ad type": "Responsive search ad",
                "Headline 1": a["headline_1"], "Headline 1 position": 1,
                "Headline 2": a["headline_2"], "Headline 2 position": 2,
                "Headline 3": a["headline_3"], "Headline 3 position": 3,
                "Description 1": a["description_1"], "Description 1 position": 1,
                "Description 2": a["description_2"], "Description 2 position": 2,
                "Final URL": final_url,
                "Labels": f"{a['tracking_id']};adcombo-{a['arm']}",
                "Status": "Enabled",
            }
        )
    return rows


def _which(row: Mapping) -> str:
    tracking_id, _, arm = str(row.get("Labels", "")).partition(";adcombo-")
    return f"ad group {row.get('Ad group')}, arm {arm or '?'} (tracking id {tracking_id})"


def to_csv(rows: list[dict], columns: list[str]) -> str:
    """The Google Ads Editor CSV; raises FormulaCellError before writing anything if a cell
    would run as a spreadsheet formula."""
    refuse_formula_cells(rows, columns, _which)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
