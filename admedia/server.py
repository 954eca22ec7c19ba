"""HTTP simulator of the ad-media API (FastAPI), see docs/architecture.md "HTTP API of the simulator".

Run in the foreground:  python -m admedia.server --preset demo --seed 7 --port 8765 --token TOKEN
In tests:               with serve_in_background(world, token) as base_url: ...
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import itertools
import re
import contextlib
import datetime as dt
import functools
import hmac
import json
import os
import socket
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from . import chaos
from .creatives import CreativeStore
from .creatives import delivery as creative_delivery
from .world import World, WorldConfig

DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10000


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": status, "message": message}}, status_code=status, headers=headers)


@dataclass
class FaultConfig:
    """What the simulator does wrong, each at its own rate (deterministic by seed).

    Per request on /v1 endpoints (shares of requests, drawn once per request, exclusive):
    rate_limit_rate: 429 with ``Retry-After: retry_after``; quota_rate: 403 RESOURCE_EXHAUSTED
    (a per-minute quota, no Retry-After); server_error_rate: 500 or 503; drop_rate: the answer
    starts, then the connection drops mid-body; slow_rate: the answer comes after slow_seconds.
    Per row: malformed_rate of rows arrive damaged (admedia.chaos); restatement_rate of
    performance rows are first reported with preliminary clicks and revised in later reports.
    job_polls: status polls before an asynchronous report job is DONE.
    """

    rate_limit_rate: float = 0.0
    server_error_rate: float = 0.0
    retry_after: float = 1
    seed: int = 0
    quota_rate: float = 0.0
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 2.0
    malformed_rate: float = 0.0
    restatement_rate: float = 0.0
    job_polls: int = 1

    @property
    def request_fault_rate(self) -> float:
        return self.rate_limit_rate + self.quota_rate + self.server_error_rate + self.drop_rate + self.slow_rate

    @classmethod
    def mixed(cls, failure_rate: float, seed: int = 0, **kw) -> "FaultConfig":
        """`failure_rate` of requests fail: 40% 429, 10% quota, 30% 5xx, 20% dropped mid-page."""
        r = failure_rate
        return cls(rate_limit_rate=0.4 * r, quota_rate=0.1 * r, server_error_rate=0.3 * r,
                   drop_rate=0.2 * r, seed=seed, **kw)


# --------------------------------------------------------------------------------------------
# Paging: the token is opaque to clients; it carries the offset and a checksum of the query so a
# token from one query is refused by another instead of silently returning the wrong rows.


def _encode_token(offset: int, query_key: str, snapshot: int | None = None) -> str:
    data = {"o": offset, "q": zlib.crc32(query_key.encode())}
    if snapshot is not None:
        data["s"] = snapshot
    raw = json.dumps(data, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_token_full(token: str, query_key: str) -> tuple[int, int | None]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        offset, check = int(data["o"]), int(data["q"])
        snapshot = int(data["s"]) if "s" in data else None
    except Exception:
        raise ApiError(400, "invalid page_token") from None
    if check != zlib.crc32(query_key.encode()) or offset < 0:
        raise ApiError(400, "page_token does not belong to this query (parameters changed?)")
    return offset, snapshot


def _decode_token(token: str, query_key: str) -> int:
    return _decode_token_full(token, query_key)[0]


def _page_size(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    try:
        n = int(raw)
    except ValueError:
        raise ApiError(400, f"page_size must be an integer, got {raw!r}") from None
    if not 1 <= n <= MAX_PAGE_SIZE:
        raise ApiError(400, f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {n}")
    return n


def _slice(rows: list[dict], size_raw, offset: int, query_key: str, snapshot: int | None = None) -> dict:
    size = _page_size(size_raw)
    if offset > len(rows):
        raise ApiError(400, "page_token is past the end of the result")
    end = offset + size
    nxt = _encode_token(end, query_key, snapshot) if end < len(rows) else None
    return {"rows": rows[offset:end], "next_page_token": nxt}


def _page(rows: list[dict], request: Request, query_key: str) -> dict:
    token = request.query_params.get("page_token")
    offset = _decode_token(token, query_key) if token else 0
    return _slice(rows, request.query_params.get("page_size"), offset, query_key)


# A GAQL-like search language, just enough for reports (as Google Ads' search endpoint):
#   SELECT f1, f2 FROM resource [WHERE date BETWEEN 'YYYY-MM-DD' AND 'YYYY-MM-DD']
_GAQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>[\w\s,]+?)\s+FROM\s+(?P<resource>\w+)"
    r"(?:\s+WHERE\s+date\s+BETWEEN\s+'(?P<start>[^']*)'\s+AND\s+'(?P<end>[^']*)')?\s*$",
    re.IGNORECASE)
RESOURCE_FIELDS = {
    "ads": ["ad_id", "ad_group_id", "campaign_id", "industry", "keyword", "headline_1", "headline_2",
            "headline_3", "description_1", "description_2"],
    "asset_pools": ["ad_group_id", "asset_id", "asset_type", "text", "pinned_field"],
    "ad_daily_performance": ["date", "ad_id", "impressions", "clicks", "conversions", "cost_micros"],
}


def parse_search(query: str) -> tuple[str, list[str], dt.date | None, dt.date | None]:
    m = _GAQL.match(query or "")
    if not m:
        raise ApiError(400, "query must be: SELECT fields FROM resource [WHERE date BETWEEN 'a' AND 'b']")
    resource = m["resource"]
    if resource not in RESOURCE_FIELDS:
        raise ApiError(400, f"unknown resource {resource!r}; one of {sorted(RESOURCE_FIELDS)}")
    fields = [f.strip() for f in m["fields"].split(",")]
    unknown = [f for f in fields if f not in RESOURCE_FIELDS[resource]]
    if unknown or not all(fields):
        raise ApiError(400, f"unknown fields {unknown} for {resource}")
    if resource == "ad_daily_performance":
        if m["start"] is None:
            raise ApiError(400, "ad_daily_performance needs WHERE date BETWEEN 'start' AND 'end'")
        start, end = _parse_date("start_date", m["start"]), _parse_date("end_date", m["end"])
        if start > end:
            raise ApiError(400, f"start date {start} is after end date {end}")
        return resource, fields, start, end
    return resource, fields, None, None


def _parse_date(name: str, raw: str | None) -> dt.date:
    if not raw:
        raise ApiError(400, f"{name} is required (YYYY-MM-DD)")
    try:
        if len(raw) != 10:
            raise ValueError
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a date YYYY-MM-DD, got {raw!r}") from None


# --------------------------------------------------------------------------------------------


def _date_range(params, per: str = "request") -> tuple[dt.date, dt.date]:
    """start_date..end_date of a report (query parameters or a job body), checked like a real
    reporting API would."""
    start = _parse_date("start_date", params.get("start_date"))
    end = _parse_date("end_date", params.get("end_date"))
    if start > end:
        raise ApiError(400, f"start_date {start} is after end_date {end}")
    if (end - start).days > 366:
        raise ApiError(400, f"date range is limited to 366 days per {per}")
    return start, end


def create_app(world: World, token: str, faults: FaultConfig | None = None,
               creatives: CreativeStore | None = None, today: dt.date | None = None) -> FastAPI:
    """The simulator app over one world. ``faults`` injects request faults and bad data;
    ``creatives`` keeps submitted experiment creatives (in memory unless it has a file).

    ``today`` is the simulator's clock: reports hold the days before it and nothing later, as a
    real platform has not seen tomorrow yet, and creatives submitted without a start date start
    on it. None: no clock; every day of the world has happened, and experiment creatives (from the
    day after the world's last day) deliver on any day asked for."""
    if not token:
        raise ValueError("a non-empty token is required")
    yesterday = today - dt.timedelta(days=1) if today else dt.date.max
    creatives_start = today or world.end_date + dt.timedelta(days=1)
    app = FastAPI(title="adcombo ad-media API simulator", docs_url=None, redoc_url=None, openapi_url=None)
    fc = faults or FaultConfig()
    store = creatives if creatives is not None else CreativeStore()
    ads_rows = chaos.apply_malformed("ads", world.ads(), fc.malformed_rate, fc.seed)
    pool_rows = chaos.apply_malformed("asset_pools", world.asset_pools(), fc.malformed_rate, fc.seed)
    expected = f"Bearer {token}".encode()
    lock = threading.Lock()
    reported_dates: set[str] = set()  # dates reported once: later reports carry final numbers
    snapshots: collections.OrderedDict[int, list[dict]] = collections.OrderedDict()
    jobs: collections.OrderedDict[str, dict] = collections.OrderedDict()
    ids = itertools.count(1)

    @functools.lru_cache(maxsize=8)
    def final_rows(start: dt.date, end: dt.date) -> list[dict]:
        # Cached: every page of one report asks for the same range.
        end = min(end, yesterday)
        return world.daily_performance(start, end) if start <= end else []

    def perf_report(start: dt.date, end: dt.date) -> list[dict]:
        """Rows as reported now: preliminary for dates never reported before, then damaged."""
        rows = final_rows(start, end)
        if fc.restatement_rate > 0:
            with lock:
                fresh = {r["date"] for r in rows} - reported_dates
                reported_dates.update(fresh)
            prelim = chaos.preliminary([r for r in rows if r["date"] in fresh], fc.restatement_rate, fc.seed)
            it = iter(prelim)
            rows = [next(it) if r["date"] in fresh else r for r in rows]
        return chaos.apply_malformed("ad_daily_performance", rows, fc.malformed_rate, fc.seed)

    def keep(store: collections.OrderedDict, key, value, limit: int = 256) -> None:
        with lock:
            store[key] = value
            while len(store) > limit:  # bounded, like a real API's result cache
                store.popitem(last=False)

    app.add_middleware(_AuthAndFaults, expected=expected, faults=faults)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.headers)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"ok": True}

    @app.get("/v1/ads")
    def ads(request: Request) -> dict:
        return _page(ads_rows, request, "ads")

    @app.get("/v1/asset_pools")
    def asset_pools(request: Request) -> dict:
        return _page(pool_rows, request, "asset_pools")

    @app.get("/v1/reports/ad_daily_performance")
    def ad_daily_performance(request: Request) -> dict:
        """Synchronous report (final numbers); real platforms prefer the job flow below."""
        start, end = _date_range(request.query_params)
        rows = chaos.apply_malformed("ad_daily_performance", final_rows(start, end), fc.malformed_rate, fc.seed)
        return _page(rows, request, f"perf:{start}:{end}")

    # ---- experiment creatives: submitted by tracking id, served from the ground truth ----

    @app.post("/v1/creatives")
    async def submit_creatives(request: Request) -> dict:
        body = await _json_body(request)
        items = body.get("creatives")
        if not isinstance(items, list):
            raise ApiError(400, "body must be {\"creatives\": [...]}")
        accepted, rejected = store.submit(world, items, creatives_start)
        return {"accepted": accepted, "rejected": rejected}

    @app.get("/v1/reports/creative_performance")
    def creative_performance(request: Request) -> dict:
        start, end = _date_range(request.query_params)
        rows = creative_delivery(world, store.all(), start, min(end, yesterday)) if start <= yesterday else []
        return _page(rows, request, f"creatives:{start}:{end}")

    # ---- asynchronous report jobs (create, poll, download pages), as Meta / Yahoo! JAPAN ----

    @app.post("/v1/reports/jobs")
    async def create_job(request: Request) -> dict:
        body = await _json_body(request)
        if body.get("report") != "ad_daily_performance":
            raise ApiError(400, "report must be 'ad_daily_performance'")
        start, end = _date_range(body, per="job")
        job_id = f"job-{next(ids)}"
        keep(jobs, job_id, {"rows": perf_report(start, end), "polls": 0})
        return {"job_id": job_id, "status": "PENDING"}

    def _job(job_id: str) -> dict:
        with lock:
            job = jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"unknown or expired report job {job_id!r}")
        return job

    @app.get("/v1/reports/jobs/{job_id}")
    def job_status(job_id: str) -> dict:
        job = _job(job_id)
        with lock:
            job["polls"] += 1
            done = job["polls"] >= fc.job_polls
        if not done:
            return {"job_id": job_id, "status": "RUNNING"}
        return {"job_id": job_id, "status": "DONE", "row_count": len(job["rows"])}

    @app.get("/v1/reports/jobs/{job_id}/rows")
    def job_rows(job_id: str, request: Request) -> dict:
        job = _job(job_id)
        if job["polls"] < fc.job_polls:
            raise ApiError(409, f"report job {job_id} is not DONE yet: poll its status first")
        return _page(job["rows"], request, f"job:{job_id}")

    # ---- paged search with a query language, as Google Ads (GAQL) -------------------------------

    @app.post("/v1/search")
    async def search(request: Request) -> dict:
        body = await _json_body(request)
        query = str(body.get("query", ""))
        resource, fields, start, end = parse_search(query)
        token = body.get("page_token")
        if token:
            offset, snap = _decode_token_full(str(token), query)
            with lock:
                rows = snapshots.get(snap)
            if rows is None:
                raise ApiError(400, "page_token expired: run the search again from the first page")
        else:
            # The result is fixed at the first page, so paging stays consistent while data changes.
            full = {"ads": lambda: ads_rows, "asset_pools": lambda: pool_rows,
                    "ad_daily_performance": lambda: perf_report(start, end)}[resource]()
            rows = [{f: r[f] for f in fields if f in r} for r in full]
            offset, snap = 0, next(ids)
            keep(snapshots, snap, rows)
        page = _slice(rows, body.get("page_size"), offset, query, snap)
        return {**page, "total_results_count": len(rows)}

    return app


async def _json_body(request: Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body


class _Dropped(Exception):
    pass


class _AuthAndFaults:
    """Plain ASGI middleware: bearer auth, then at most one injected fault per /v1 request.

    A dropped connection sends the status line and half the body, then stops: the client sees a
    broken body (as when a proxy or the platform cuts a long download), not a clean error.
    """

    def __init__(self, app, expected: bytes, faults: FaultConfig | None):
        self.app, self.expected, self.faults = app, expected, faults
        self.rng = np.random.default_rng(faults.seed) if faults else None
        self.lock = threading.Lock()
        self.counter = itertools.count()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        # Constant-time comparison; the token itself never appears in a response or log.
        if not hmac.compare_digest(headers.get(b"authorization", b""), self.expected):
            return await _error(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})(
                scope, receive, send)
        f = self.faults
        if f is None or f.request_fault_rate <= 0:
            return await self.app(scope, receive, send)
        with self.lock:
            u = float(self.rng.random())
            n = next(self.counter)
        edges = itertools.accumulate([f.rate_limit_rate, f.quota_rate, f.server_error_rate, f.drop_rate, f.slow_rate])
        kind = next((k for k, edge in zip(("429", "quota", "5xx", "drop", "slow"), edges) if u < edge), None)
        if kind == "429":
            return await _error(429, "rate limit exceeded, retry later",
                                {"Retry-After": f"{f.retry_after:g}"})(scope, receive, send)
        if kind == "quota":
            return await JSONResponse({"error": {
                "code": 403, "status": "RESOURCE_EXHAUSTED", "reason": "rateLimitExceeded",
                "message": "quota exceeded: too many requests per minute for this developer token"}},
                status_code=403)(scope, receive, send)
        if kind == "5xx":
            code = (500, 503)[n % 2]
            return await _error(code, "internal error" if code == 500 else "backend unavailable, retry later")(
                scope, receive, send)
        if kind == "slow":
            await asyncio.sleep(f.slow_seconds)
        if kind != "drop":
            return await self.app(scope, receive, send)

        async def send_half(message):
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
                raise _Dropped
            await send(message)

        try:
            await self.app(scope, receive, send_half)
        except _Dropped:
            pass  # returning with the body unfinished makes the server close the connection


@contextlib.contextmanager
def serve_in_background(world: World, token: str, host: str = "127.0.0.1", port: int = 0,
                        faults: FaultConfig | None = None, startup_timeout: float = 10.0,
                        creatives_path: str | None = None, today: dt.date | None = None) -> Iterator[str]:
    """Serve the simulator on a loopback socket in a daemon thread; yields the base URL.

    ``creatives_path`` keeps submitted creatives in a file, so a later server sees them;
    ``today`` is the simulator's clock (create_app)."""
    app = create_app(world, token, faults, CreativeStore(creatives_path), today)
    # Bind the socket ourselves so port 0 picks a free port with no race between "find" and "bind".
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    actual_port = sock.getsockname()[1]
    # Dropped responses are on purpose: keep uvicorn from logging each one as an error.
    quiet = faults is not None and faults.drop_rate > 0
    config = uvicorn.Config(app, log_level="critical" if quiet else "warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name=f"admedia-server-{actual_port}")
    thread.start()
    base_url = f"http://{host}:{actual_port}"
    try:
        _wait_healthy(base_url, server, thread, startup_timeout)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _wait_healthy(base_url: str, server: uvicorn.Server, thread: threading.Thread, timeout: float) -> None:
    import urllib.request  # stdlib: the server must not depend on the client package

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("simulator server thread exited during startup")
        if server.started:
            try:
                with urllib.request.urlopen(f"{base_url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
        time.sleep(0.01)
    raise RuntimeError(f"simulator did not answer {base_url}/healthz within {timeout}s")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m admedia.server", description="Serve the ad-media API simulator.")
    p.add_argument("--preset", default="demo", choices=["tiny", "small", "demo", "shifted", "default"])
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--token", default=None, help="bearer token (default: $ADMEDIA_TOKEN)")
    p.add_argument("--rate-limit-rate", type=float, default=0.0, help="share of requests answered 429")
    p.add_argument("--server-error-rate", type=float, default=0.0, help="share of requests answered 500/503")
    p.add_argument("--fault-rate", type=float, default=0.0,
                   help="share of requests failing, mixed: 429, quota, 5xx, dropped mid-page")
    p.add_argument("--malformed-rate", type=float, default=0.0, help="share of rows served damaged")
    p.add_argument("--restatement-rate", type=float, default=0.0, help="share of rows first reported preliminary")
    args = p.parse_args(argv)
    token = args.token or os.environ.get("ADMEDIA_TOKEN")
    if not token:
        p.error("a token is required: --token or $ADMEDIA_TOKEN")
    world = World.generate(WorldConfig.preset(args.preset, seed=args.seed))
    faults = FaultConfig.mixed(args.fault_rate, seed=args.seed) if args.fault_rate else FaultConfig(seed=args.seed)
    faults.rate_limit_rate += args.rate_limit_rate
    faults.server_error_rate += args.server_error_rate
    faults.malformed_rate, faults.restatement_rate = args.malformed_rate, args.restatement_rate
    print(f"admedia simulator: preset={args.preset} seed={args.seed} ads={len(world.ads())} "
          f"on http://{args.host}:{args.port}", file=sys.stderr)
    uvicorn.run(create_app(world, token, faults), host=args.host, port=args.port,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
