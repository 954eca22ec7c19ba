import datetime as dt
import logging
import threading

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from admedia.client import AdMediaClient, AdMediaError
from admedia.server import FaultConfig, create_app, serve_in_background

TOKEN = "s3cret-token-xyz"


@pytest.fixture(scope="module")
def base_url(tiny_world):
    with serve_in_background(tiny_world, TOKEN) as url:
        yield url


def test_serve_in_background_port_and_shutdown(tiny_world):
    import requests

    with serve_in_background(tiny_world, TOKEN) as url:
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        assert requests.get(f"{url}/healthz", timeout=5).json() == {"ok": True}
        n_threads = threading.active_count()
    assert threading.active_count() < n_threads
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/healthz", timeout=2)


def test_client_gets_exactly_the_worlds_rows(base_url, tiny_world):
    c = AdMediaClient(base_url, TOKEN, page_size=17)
    assert c.fetch_ads() == tiny_world.ads()
    assert c.fetch_asset_pools() == tiny_world.asset_pools()
    s, e = tiny_world.start_date, tiny_world.end_date
    assert c.fetch_daily_performance(s, e) == tiny_world.daily_performance(s, e)
    assert TOKEN not in repr(c)


def test_wrong_token_fails_fast_without_leaking(base_url):
    calls = []
    c = AdMediaClient(base_url, "wrong-token", backoff_initial=0.01)
    orig = c._session.request
    c._session.request = lambda *a, **k: calls.append(1) or orig(*a, **k)
    with pytest.raises(AdMediaError) as ei:
        c.fetch_ads()
    assert ei.value.status == 401 and len(calls) == 1  # 4xx is not retried
    assert "wrong-token" not in str(ei.value)


def test_bad_request_is_not_retried(base_url):
    c = AdMediaClient(base_url, TOKEN, page_size=0, backoff_initial=0.01)
    with pytest.raises(AdMediaError) as ei:
        c.fetch_ads()
    assert ei.value.status == 400 and "page_size" in str(ei.value)


def test_client_retries_429_and_5xx_and_still_gets_every_row_once(tiny_world, caplog):
    faults = FaultConfig(rate_limit_rate=0.25, server_error_rate=0.2, retry_after=0, seed=1)
    with serve_in_background(tiny_world, TOKEN, faults=faults) as url:
        c = AdMediaClient(url, TOKEN, page_size=9, max_attempts=30, backoff_initial=0.001, backoff_max=0.01)
        with caplog.at_level(logging.WARNING, logger="admedia.client"):
            assert c.fetch_ads() == tiny_world.ads()
            s, e = tiny_world.start_date, tiny_world.end_date
            assert c.fetch_daily_performance(s, e) == tiny_world.daily_performance(s, e)
    text = caplog.text
    assert "429" in text and "503" in text  # retries happened, for both reasons
    assert TOKEN not in text


def _flaky_app(statuses):
    """Answers the given statuses in turn, then the real page; counts requests."""
    app = FastAPI()
    seen = []

    @app.get("/v1/ads")
    def ads(request: Request):
        seen.append(dict(request.query_params))
        if len(seen) <= len(statuses):
            code = statuses[len(seen) - 1]
            return JSONResponse({"error": {"code": code, "message": "injected"}}, status_code=code,
                                headers={"Retry-After": "0"} if code == 429 else {})
        return {"rows": [{"n": 1}], "next_page_token": None}

    return app, seen


def _serve(app):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    th = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    return server, th, f"http://127.0.0.1:{sock.getsockname()[1]}", sock


def test_gives_up_after_max_attempts_and_retry_after_is_honoured():
    app, seen = _flaky_app([503, 502, 429, 504, 500, 503, 503])
    server, th, url, sock = _serve(app)
    try:
        import time
        while not server.started:
            time.sleep(0.01)
        c = AdMediaClient(url, TOKEN, max_attempts=4, backoff_initial=0.001)
        with pytest.raises(AdMediaError) as ei:
            c.fetch_ads()
        assert ei.value.status == 504 and len(seen) == 4
        c = AdMediaClient(url, TOKEN, max_attempts=6, backoff_initial=0.001)
        assert c.fetch_ads() == [{"n": 1}]  # 500, 503, 503 then success
        assert len(seen) == 8
    finally:
        server.should_exit = True
        th.join(5)
        sock.close()


def test_connection_errors_are_retried_then_reported():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens here now
    c = AdMediaClient(f"http://127.0.0.1:{port}", TOKEN, max_attempts=3, backoff_initial=0.001, timeout=2)
    with pytest.raises(AdMediaError) as ei:
        c.fetch_ads()
    assert ei.value.status is None and "3 attempts" in str(ei.value)
