"""Fetch raw rows from the ad-media API, resuming a download where it broke.

The client already retries each page; when a page still fails (retries exhausted), we resume from
that page's token a bounded number of times instead of starting the report over: rows already
received are complete pages, so resuming neither loses nor repeats any.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Callable, Iterator

from admedia.client import AdMediaClient, AdMediaError

log = logging.getLogger(__name__)

SEARCH_QUERIES = {
    "raw.ads": "SELECT ad_id, ad_group_id, campaign_id, industry, keyword, headline_1, headline_2, "
               "headline_3, description_1, description_2 FROM ads",
    "raw.asset_pools": "SELECT ad_group_id, asset_id, asset_type, text, pinned_field FROM asset_pools",
}


def _collect(pages: Callable[[object], Iterator[dict]], max_resumes: int, what: str) -> list[dict]:
    rows: list[dict] = []
    resume = None
    for attempt in range(max_resumes + 1):
        try:
            for row in pages(resume):
                rows.append(row)
            return rows
        except AdMediaError as exc:
            if not exc.exhausted or attempt == max_resumes:
                raise  # a 4xx or a broken response: resuming would fail the same way
            # (job_id, token) for a report, the page token for a search; None restarts, which is
            # only possible when the first page failed, i.e. before any row was kept.
            resume = getattr(exc, "resume", exc.page_token)
            log.warning("%s: page failed after retries (%s); resuming from that page (%d/%d)",
                        what, exc.message, attempt + 1, max_resumes)
    return rows


def fetch_snapshot(client: AdMediaClient, table: str, max_resumes: int = 3) -> list[dict]:
    """Current ads or asset pools, through the paged search endpoint."""
    query = SEARCH_QUERIES[table]
    return _collect(lambda token: client.search(query, resume_from=token), max_resumes, table)


def fetch_performance(client: AdMediaClient, start: dt.date, end: dt.date, max_resumes: int = 3) -> list[dict]:
    """Daily performance of start..end through an asynchronous report job."""
    return _collect(lambda resume: client.run_report(start, end, resume_from=resume), max_resumes,
                    f"ad_daily_performance {start}..{end}")
