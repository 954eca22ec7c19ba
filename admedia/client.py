"""Client of the ad-media API (the simulator locally; the same shape for a real platform adapter).

Reliability: each page is one request, retried on its own (same page_token) on connection errors,
timeouts, bodies cut mid-way, 429 (honouring Retry-After), quota errors (403 RESOURCE_EXHAUSTED /
rateLimitExceeded) and 500/502/503/504, with exponential backoff and full jitter and a bounded
number of attempts. Other 4xx fail at once: retrying a bad request or a bad token only hides the
problem. When a page fails for good the error carries its page_token, so a caller can resume
(`resume_from=`) without refetching earlier pages. The token is sent in a header and never logged
or put in an exception message.

Report flows: `run_report` (asynchronous job: create, poll, download pages, as Meta or Yahoo!
JAPAN reporting) and `search` (a query with page tokens, as Google Ads' GAQL search).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from typing import Any, Iterator

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# 403 is retried only when the body says it is a rate/quota limit, not a permission problem.
QUOTA_MARKERS = ("RESOURCE_EXHAUSTED", "rateLimitExceeded", "userRateLimitExceeded")


class AdMediaError(Exception):
    """The API failed for good: a non-retryable answer, or retries exhausted."""

    def __init__(self, message: str, status: int | None = None, path: str | None = None,
                 page_token: str | None = None):
        super().__init__(f"{message} (status={status}, path={path})" if status or path else message)
        self.status, self.message, self.path = status, message, path
        self.page_token = page_token  # the page that failed: pass it as resume_from to continue
        self.exhausted = False  # True when a transient failure outlasted every retry


class _Retryable(Exception):
    def __init__(self, error: AdMediaError, retry_after: float | None = None):
        super().__init__(str(error))
        self.error, self.retry_after = error, retry_after


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff rather than parse clocks


def _is_quota_error(resp: requests.Response) -> bool:
    if resp.status_code != 403:
        return False
    try:
        err = resp.json().get("error", {})
    except (ValueError, AttributeError):
        return False
    return isinstance(err, dict) and any(m in (str(err.get("status")), str(err.get("reason"))) for m in QUOTA_MARKERS)


def _error_message(resp: requests.Response) -> str:
    try:
        body = resp.json()
        if isinstance(body, dict):
            err = body.get("error")
            if isinstance(err, dict) and err.get("message"):
                return str(err["message"])
            if body.get("detail"):
                return str(body["detail"])
    except ValueError:
        pass
    return (resp.text or resp.reason or "").strip()[:300]


class AdMediaClient:
    def __init__(self, base_url: str, token: str, timeout: float = 30, page_size: int = 1000,
                 max_attempts: int = 6, backoff_initial: float = 0.5, backoff_max: float = 30.0,
                 session: requests.Session | None = None, poll_interval: float = 0.2,
                 job_timeout: float = 600.0):
        if not token:
            raise ValueError("an API token is required")
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.page_size = page_size
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.poll_interval = poll_interval
        self.job_timeout = job_timeout
        self._session = session or requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"
        self._session.headers["Accept"] = "application/json"

    def __repr__(self) -> str:  # no token here: reprs end up in logs and tracebacks
        return f"AdMediaClient(base_url={self.base_url!r}, page_size={self.page_size})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "AdMediaClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- public ---------------------------------------------------------------------------------

    def iter_ads(self) -> Iterator[dict]:
        return self._iter_pages("/v1/ads", {})

    def iter_asset_pools(self) -> Iterator[dict]:
        return self._iter_pages("/v1/asset_pools", {})

    def iter_daily_performance(self, start: dt.date, end: dt.date) -> Iterator[dict]:
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        return self._iter_pages("/v1/reports/ad_daily_performance",
                                {"start_date": start.isoformat(), "end_date": end.isoformat()})

    def submit_creatives(self, creatives: list[dict]) -> dict:
        """Submit experiment creatives; safe to retry (a tracking id is accepted once)."""
        return self._request("POST", "/v1/creatives", json={"creatives": creatives})

    def iter_creative_performance(self, start: dt.date, end: dt.date) -> Iterator[dict]:
        """Daily delivery of submitted creatives by tracking id."""
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        return self._iter_pages("/v1/reports/creative_performance",
                                {"start_date": start.isoformat(), "end_date": end.isoformat()})

    def fetch_ads(self) -> list[dict]:
        return list(self.iter_ads())

    def fetch_asset_pools(self) -> list[dict]:
        return list(self.iter_asset_pools())

    def fetch_daily_performance(self, start: dt.date, end: dt.date) -> list[dict]:
        return list(self.iter_daily_performance(start, end))

    def run_report(self, start: dt.date, end: dt.date, report: str = "ad_daily_performance",
                   resume_from: tuple[str, str] | None = None) -> Iterator[dict]:
        """Asynchronous report: create a job, poll until DONE, then download its pages.

        `resume_from=(job_id, page_token)` continues a download that failed part-way.
        """
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        if resume_from:
            job_id, token = resume_from
        else:
            job = self._request("POST", "/v1/reports/jobs", json={
                "report": report, "start_date": start.isoformat(), "end_date": end.isoformat()})
            job_id, token = str(job["job_id"]), None
            self._wait_for_job(job_id)
        return self._job_pages(job_id, token)

    def _job_pages(self, job_id: str, token: str | None) -> Iterator[dict]:
        try:
            yield from self._iter_pages(f"/v1/reports/jobs/{job_id}/rows", {}, start_token=token)
        except AdMediaError as exc:
            exc.resume = (job_id, exc.page_token)  # what run_report(resume_from=...) takes
            raise

    def _wait_for_job(self, job_id: str) -> None:
        deadline = time.monotonic() + self.job_timeout
        delay = self.poll_interval
        while True:
            status = self._request("GET", f"/v1/reports/jobs/{job_id}").get("status")
            if status == "DONE":
                return
            if status in ("FAILED", "CANCELLED"):
                raise AdMediaError(f"report job {job_id} ended {status}", 200, "/v1/reports/jobs")
            if time.monotonic() > deadline:
                raise AdMediaError(f"report job {job_id} not DONE after {self.job_timeout:.0f}s", 200,
                                   "/v1/reports/jobs")
            time.sleep(delay)
            delay = min(delay * 2, 10.0)  # polls back off too: long jobs need few status calls

    def search(self, query: str, resume_from: str | None = None) -> Iterator[dict]:
        """Rows of a search query (`SELECT f, ... FROM resource [WHERE date BETWEEN 'a' AND 'b']`)."""
        return self._iter_pages("/v1/search", {"query": query}, start_token=resume_from, method="POST")

    # ---- paging and retries ----------------------------------------------------------------------

    def _iter_pages(self, path: str, params: dict[str, Any], start_token: str | None = None,
                    method: str = "GET") -> Iterator[dict]:
        token: str | None = start_token
        while True:
            page_params = {**params, "page_size": self.page_size}
            if token:
                page_params["page_token"] = token
            try:
                if method == "GET":
                    body = self._request("GET", path, params=page_params)
                else:
                    body = self._request(method, path, json=page_params)
            except AdMediaError as exc:
                exc.page_token = token
                raise
            rows = body.get("rows")
            if not isinstance(rows, list):
                raise AdMediaError("response has no 'rows' list", 200, path, token)
            yield from rows
            nxt = body.get("next_page_token")
            if not nxt:
                return
            if nxt == token:  # a server bug must not turn into an endless loop of duplicate rows
                raise AdMediaError("server returned the same page_token twice", 200, path, token)
            token = nxt

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, self.backoff_max)
        # Full jitter: spreads retries of parallel clients instead of synchronising them.
        cap = min(self.backoff_max, self.backoff_initial * 2 ** (state.attempt_number - 1))
        return random.uniform(0, cap)

    def _request(self, method: str, path: str, params: dict | None = None, json: dict | None = None) -> dict:
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            before_sleep=lambda s: log.warning(
                "ad-media API %s failed (attempt %d/%d): %s; retrying", path, s.attempt_number,
                self.max_attempts, s.outcome.exception()),
            reraise=True,
        )
        try:
            return retrying(self._once, method, path, params, json)
        except _Retryable as exc:
            err = AdMediaError(f"gave up after {self.max_attempts} attempts: {exc.error.message}",
                               exc.error.status, path)
            err.exhausted = True
            raise err from None

    def _once(self, method: str, path: str, params: dict | None, json: dict | None) -> dict:
        url = self.base_url + path
        try:
            resp = self._session.request(method, url, params=params, json=json, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            # A connection dropped mid-body lands here too. str(exc) carries the URL and reason,
            # never request headers.
            raise _Retryable(AdMediaError(f"{type(exc).__name__}: {exc}", None, path)) from None
        if _is_quota_error(resp):
            raise _Retryable(AdMediaError(_error_message(resp), resp.status_code, path))
        if resp.status_code in RETRY_STATUSES:
            err = AdMediaError(_error_message(resp), resp.status_code, path)
            retry_after = _parse_retry_after(resp.headers.get("Retry-After")) if resp.status_code == 429 else None
            raise _Retryable(err, retry_after)
        if resp.status_code >= 400:
            raise AdMediaError(_error_message(resp), resp.status_code, path)
        try:
            body = resp.json()
        except ValueError:
            # A truncated body (dropped connection mid-response) is transient.
            raise _Retryable(AdMediaError("response is not valid JSON", resp.status_code, path)) from None
        if not isinstance(body, dict):
            raise AdMediaError("response is not a JSON object", resp.status_code, path)
        return body
