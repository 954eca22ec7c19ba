"""Client of the ad-media API (the simulator locally; the same shape for a real platform adapter).

Reliability: each page is one request, retried on its own (same page_token) on connection errors,
timeouts, 429 (honouring Retry-After) and 500/502/503/504, with exponential backoff and jitter and a
bounded number of attempts. Other 4xx fail at once: retrying a bad request or a bad token only hides
the problem. The token is sent in a header and never logged or put in an exception message.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from typing import Any, Iterator

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class AdMediaError(Exception):
    """The API failed for good: a non-retryable answer, or retries exhausted."""

    def __init__(self, message: str, status: int | None = None, path: str | None = None):
        super().__init__(f"{message} (status={status}, path={path})" if status or path else message)
        self.status, self.message, self.path = status, message, path


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
                 session: requests.Session | None = None):
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

    def fetch_ads(self) -> list[dict]:
        return list(self.iter_ads())

    def fetch_asset_pools(self) -> list[dict]:
        return list(self.iter_asset_pools())

    def fetch_daily_performance(self, start: dt.date, end: dt.date) -> list[dict]:
        return list(self.iter_daily_performance(start, end))

    # ---- paging and retries ----------------------------------------------------------------------

    def _iter_pages(self, path: str, params: dict[str, Any]) -> Iterator[dict]:
        token: str | None = None
        while True:
            page_params = {**params, "page_size": self.page_size}
            if token:
                page_params["page_token"] = token
            body = self._get_with_retries(path, page_params)
            rows = body.get("rows")
            if not isinstance(rows, list):
                raise AdMediaError("response has no 'rows' list", 200, path)
            yield from rows
            nxt = body.get("next_page_token")
            if not nxt:
                return
            if nxt == token:  # a server bug must not turn into an endless loop of duplicate rows
                raise AdMediaError("server returned the same page_token twice", 200, path)
            token = nxt

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, self.backoff_max)
        # Full jitter: spreads retries of parallel clients instead of synchronising them.
        cap = min(self.backoff_max, self.backoff_initial * 2 ** (state.attempt_number - 1))
        return random.uniform(0, cap)

    def _get_with_retries(self, path: str, params: dict[str, Any]) -> dict:
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
            return retrying(self._get_once, path, params)
        except _Retryable as exc:
            raise AdMediaError(f"gave up after {self.max_attempts} attempts: {exc.error.message}",
                               exc.error.status, path) from None

    def _get_once(self, path: str, params: dict[str, Any]) -> dict:
        url = self.base_url + path
        try:
            resp = self._session.get(url, params=params, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            # str(exc) carries the URL and reason, never request headers.
            raise _Retryable(AdMediaError(f"{type(exc).__name__}: {exc}", None, path)) from None
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
