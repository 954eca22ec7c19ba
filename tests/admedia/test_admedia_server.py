import datetime as dt

import pytest
from fastapi.testclient import TestClient

from admedia.server import create_app

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def http(tiny_world):
    return TestClient(create_app(tiny_world, TOKEN))


def _all_pages(http, path, params, page_size):
    rows, token, pages = [], None, 0
    while True:
        q = {**params, "page_size": page_size, **({"page_token": token} if token else {})}
        r = http.get(path, params=q, headers=AUTH)
        assert r.status_code == 200, r.text
        body = r.json()
        rows += body["rows"]
        pages += 1
        token = body["next_page_token"]
        if token is None:
            return rows, pages


def test_healthz_needs_no_auth(http):
    assert http.get("/healthz").json() == {"ok": True}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_401_without_valid_token(http, headers):
    r = http.get("/v1/ads", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == 401
    assert TOKEN not in r.text


def test_paging_returns_every_row_once(http, tiny_world):
    ads, pages = _all_pages(http, "/v1/ads", {}, 7)
    assert ads == tiny_world.ads() and pages > 1
    pools, _ = _all_pages(http, "/v1/asset_pools", {}, 50)
    assert pools == tiny_world.asset_pools()
    s, e = tiny_world.start_date, tiny_world.end_date
    perf, pages = _all_pages(http, "/v1/reports/ad_daily_performance",
                             {"start_date": s.isoformat(), "end_date": e.isoformat()}, 100)
    assert perf == tiny_world.daily_performance(s, e) and pages > 1
    one, pages = _all_pages(http, "/v1/ads", {}, 10000)
    assert one == tiny_world.ads() and pages == 1


@pytest.mark.parametrize("params, fragment", [
    ({"start_date": "2025-13-01", "end_date": "2025-06-30"}, "start_date"),
    ({"start_date": "2025-06-01"}, "end_date"),
    ({"start_date": "2025-06-30", "end_date": "2025-06-01"}, "after"),
    ({"start_date": "2025/06/01", "end_date": "2025-06-30"}, "YYYY-MM-DD"),
    ({"start_date": "2025-06-01", "end_date": "2025-06-30", "page_size": "0"}, "page_size"),
    ({"start_date": "2025-06-01", "end_date": "2025-06-30", "page_size": "10001"}, "page_size"),
    ({"start_date": "2025-06-01", "end_date": "2025-06-30", "page_size": "x"}, "page_size"),
    ({"start_date": "2025-06-01", "end_date": "2025-06-30", "page_token": "garbage!"}, "page_token"),
])
def test_bad_params_are_400(http, params, fragment):
    r = http.get("/v1/reports/ad_daily_performance", params=params, headers=AUTH)
    assert r.status_code == 400
    assert fragment in r.json()["error"]["message"]


def test_page_token_bound_to_query(http):
    r = http.get("/v1/ads", params={"page_size": 2}, headers=AUTH)
    token = r.json()["next_page_token"]
    r = http.get("/v1/asset_pools", params={"page_token": token}, headers=AUTH)
    assert r.status_code == 400
