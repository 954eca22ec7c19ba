"""HTTP simulator of the ad-media API (FastAPI), see docs/architecture.md "HTTP API of the simulator".

Run in the foreground:  python -m admedia.server --preset demo --seed 7 --port 8765 --token TOKEN
In tests:               with serve_in_background(world, token) as base_url: ...
"""

from __future__ import annotations

import argparse
import base64
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
from typing import Callable, Iterator

import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

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
    """Injected failures on /v1 endpoints, to exercise client retries (deterministic by seed).

    rate_limit_rate: share of requests answered 429 with ``Retry-After: retry_after``;
    server_error_rate: share answered 503.
    """

    rate_limit_rate: float = 0.0
    server_error_rate: float = 0.0
    retry_after: int = 1
    seed: int = 0


# --------------------------------------------------------------------------------------------
# Paging: the token is opaque to clients; it carries the offset and a checksum of the query so a
# token from one query is refused by another instead of silently returning the wrong rows.


def _encode_token(offset: int, query_key: str) -> str:
    raw = json.dumps({"o": offset, "q": zlib.crc32(query_key.encode())}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_token(token: str, query_key: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        offset, check = int(data["o"]), int(data["q"])
    except Exception:
        raise ApiError(400, "invalid page_token") from None
    if check != zlib.crc32(query_key.encode()) or offset < 0:
        raise ApiError(400, "page_token does not belong to this query (parameters changed?)")
    return offset


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


def _page(rows: list[dict], request: Request, query_key: str) -> dict:
    size = _page_size(request.query_params.get("page_size"))
    token = request.query_params.get("page_token")
    offset = _decode_token(token, query_key) if token else 0
    if offset > len(rows):
        raise ApiError(400, "page_token is past the end of the result")
    end = offset + size
    nxt = _encode_token(end, query_key) if end < len(rows) else None
    return {"rows": rows[offset:end], "next_page_token": nxt}


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


def create_app(world: World, token: str, faults: FaultConfig | None = None) -> FastAPI:
    """The simulator app over one world. ``faults`` optionally injects 429/503 answers."""
    if not token:
        raise ValueError("a non-empty token is required")
    app = FastAPI(title="adcombo ad-media API simulator", docs_url=None, redoc_url=None, openapi_url=None)
    ads_rows = world.ads()
    pool_rows = world.asset_pools()
    expected = f"Bearer {token}".encode()
    fault_rng = np.random.default_rng(faults.seed) if faults else None
    fault_lock = threading.Lock()

    @functools.lru_cache(maxsize=8)
    def perf_rows(start: dt.date, end: dt.date) -> list[dict]:
        # Cached: every page of one report asks for the same range.
        return world.daily_performance(start, end)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.headers)

    @app.middleware("http")
    async def _auth_and_faults(request: Request, call_next: Callable):
        if request.url.path.startswith("/v1/"):
            got = request.headers.get("authorization", "").encode()
            # Constant-time comparison; the token itself never appears in a response or log.
            if not hmac.compare_digest(got, expected):
                return _error(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
            if faults is not None:
                with fault_lock:
                    u = float(fault_rng.random())
                if u < faults.rate_limit_rate:
                    return _error(429, "rate limit exceeded, retry later",
                                  {"Retry-After": str(faults.retry_after)})
                if u < faults.rate_limit_rate + faults.server_error_rate:
                    return _error(503, "backend unavailable, retry later")
        return await call_next(request)

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
        q = request.query_params
        start = _parse_date("start_date", q.get("start_date"))
        end = _parse_date("end_date", q.get("end_date"))
        if start > end:
            raise ApiError(400, f"start_date {start} is after end_date {end}")
        if (end - start).days > 366:
            raise ApiError(400, "date range is limited to 366 days per request")
        return _page(perf_rows(start, end), request, f"perf:{start}:{end}")

    return app


@contextlib.contextmanager
def serve_in_background(world: World, token: str, host: str = "127.0.0.1", port: int = 0,
                        faults: FaultConfig | None = None, startup_timeout: float = 10.0) -> Iterator[str]:
    """Serve the simulator on a loopback socket in a daemon thread; yields the base URL."""
    app = create_app(world, token, faults)
    # Bind the socket ourselves so port 0 picks a free port with no race between "find" and "bind".
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    actual_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
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
    p.add_argument("--preset", default="demo", choices=["tiny", "demo", "default"])
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--token", default=None, help="bearer token (default: $ADMEDIA_TOKEN)")
    p.add_argument("--rate-limit-rate", type=float, default=0.0, help="share of requests answered 429")
    p.add_argument("--server-error-rate", type=float, default=0.0, help="share of requests answered 503")
    args = p.parse_args(argv)
    token = args.token or os.environ.get("ADMEDIA_TOKEN")
    if not token:
        p.error("a token is required: --token or $ADMEDIA_TOKEN")
    world = World.generate(WorldConfig.preset(args.preset, seed=args.seed))
    faults = None
    if args.rate_limit_rate or args.server_error_rate:
        faults = FaultConfig(args.rate_limit_rate, args.server_error_rate, seed=args.seed)
    print(f"admedia simulator: preset={args.preset} seed={args.seed} ads={len(world.ads())} "
          f"on http://{args.host}:{args.port}", file=sys.stderr)
    uvicorn.run(create_app(world, token, faults), host=args.host, port=args.port,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
