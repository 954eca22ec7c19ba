"""Report flows and faults of the simulator, through the client."""

import logging

import pytest
from fastapi.testclient import TestClient

from admedia import chaos
from admedia.client import AdMediaClient, AdMediaError
from admedia.server import FaultConfig, create_app, serve_in_background

TOKEN = "reports-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _client(url, **kw):
    return AdMediaClient(url, TOKEN, **{**dict(page_size=13, max_attempts=10, backoff_initial=0.001,
                                               backoff_max=0.01, poll_interval=0.001, timeout=5), **kw})


def test_report_job_and_search_return_exactly_the_worlds_rows(tiny_world):
    s, e = tiny_world.start_date, tiny_world.end_date
    with serve_in_background(tiny_world, TOKEN, faults=FaultConfig(job_polls=3)) as url:
        c = _client(url)
        assert list(c.run_report(s, e)) == tiny_world.daily_performance(s, e)
        assert list(c.search("SELECT ad_id, ad_group_id, campaign_id, industry, keyword, headline_1, headline_2, "
                             "headline_3, description_1, description_2 FROM ads")) == tiny_world.ads()
        got = list(c.search(f"SELECT date, ad_id, clicks FROM ad_daily_performance WHERE date BETWEEN '{s}' AND '{e}'"))
        assert got == [{k: r[k] for k in ("date", "ad_id", "clicks")} for r in tiny_world.daily_performance(s, e)]


def test_job_rows_before_done_and_bad_queries_are_refused(tiny_world):
    http = TestClient(create_app(tiny_world, TOKEN, FaultConfig(job_polls=2)))
    job = http.post("/v1/reports/jobs", json={"report": "ad_daily_performance", "start_date": "2025-06-25",
                                             "end_date": "2025-06-30"}, headers=AUTH).json()
    assert http.get(f"/v1/reports/jobs/{job['job_id']}/rows", headers=AUTH).status_code == 409
    assert http.get(f"/v1/reports/jobs/{job['job_id']}", headers=AUTH).json()["status"] == "RUNNING"
    assert http.get(f"/v1/reports/jobs/{job['job_id']}", headers=AUTH).json()["status"] == "DONE"
    for q in ("SELECT nope FROM ads", "DROP TABLE ads", "SELECT date FROM ad_daily_performance"):
        assert http.post("/v1/search", json={"query": q}, headers=AUTH).status_code == 400
    assert http.post("/v1/search", json={"query": "SELECT ad_id FROM ads"}).status_code == 401


def test_every_fault_kind_is_survived_and_logged_without_the_token(tiny_world, caplog):
    faults = FaultConfig(rate_limit_rate=0.1, quota_rate=0.1, server_error_rate=0.1, drop_rate=0.1,
                         slow_rate=0.05, slow_seconds=0.3, retry_after=0, seed=4)
    s, e = tiny_world.start_date, tiny_world.end_date
    with serve_in_background(tiny_world, TOKEN, faults=faults) as url:
        c = _client(url, timeout=0.2, max_attempts=15)
        with caplog.at_level(logging.WARNING, logger="admedia.client"):
            assert list(c.run_report(s, e)) == tiny_world.daily_performance(s, e)
            assert list(c.search("SELECT ad_group_id, asset_id, asset_type, text, pinned_field FROM asset_pools")) \
                == tiny_world.asset_pools()
    text = caplog.text
    for marker in ("429", "quota", "503", "ChunkedEncodingError", "Timeout"):
        assert marker in text, marker
    assert TOKEN not in text


def test_a_plain_403_is_not_retried(tiny_world):
    import requests

    class Forbidden(requests.Session):
        calls = 0

        def request(self, *a, **k):
            Forbidden.calls += 1
            r = requests.Response()
            r.status_code, r._content = 403, b'{"error": {"code": 403, "message": "no access to account"}}'
            return r

    c = AdMediaClient("http://127.0.0.1:9", TOKEN, session=Forbidden(), backoff_initial=0.001)
    with pytest.raises(AdMediaError, match="no access") as ei:
        c.fetch_ads()
    assert ei.value.status == 403 and Forbidden.calls == 1 and not ei.value.exhausted


def test_malformed_rows_are_deterministic_and_of_every_kind(tiny_world):
    rows = tiny_world.daily_performance(tiny_world.start_date, tiny_world.end_date)
    a = chaos.apply_malformed("ad_daily_performance", rows, 0.2, seed=1)
    assert a == chaos.apply_malformed("ad_daily_performance", rows, 0.2, seed=1)
    changed = sum(x != y for x, y in zip(a, rows))
    assert 0.1 * len(rows) < changed < 0.3 * len(rows)
    kinds = {chaos.malformed_kind(1, "ad_daily_performance", chaos.row_key("ad_daily_performance", r), 0.2) for r in rows}
    assert kinds - {None} == {"missing_field", "clicks_gt_impressions", "negative_count", "bad_date"}
