"""The simulator's clock: reports hold the days before `today`, never later ones, and creatives
submitted without a start date start on it."""

import datetime as dt

from fastapi.testclient import TestClient

from admedia.server import create_app

TOKEN = "clock-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _dates(http, path, start, end):
    r = http.get(path, params={"start_date": start.isoformat(), "end_date": end.isoformat(), "page_size": 10000},
                 headers=AUTH)
    assert r.status_code == 200, r.text
    return {row["date"] for row in r.json()["rows"]}


def _job_dates(http, start, end):
    job = http.post("/v1/reports/jobs", json={"report": "ad_daily_performance", "start_date": start.isoformat(),
                                              "end_date": end.isoformat()}, headers=AUTH).json()["job_id"]
    assert http.get(f"/v1/reports/jobs/{job}", headers=AUTH).json()["status"] == "DONE"
    rows = http.get(f"/v1/reports/jobs/{job}/rows", params={"page_size": 10000}, headers=AUTH).json()["rows"]
    return {r["date"] for r in rows}


def test_reports_stop_the_day_before_today(tiny_world):
    today = tiny_world.start_date + dt.timedelta(days=4)
    http = TestClient(create_app(tiny_world, TOKEN, today=today))
    expected = {(tiny_world.start_date + dt.timedelta(days=d)).isoformat() for d in range(4)}
    path = "/v1/reports/ad_daily_performance"
    assert _dates(http, path, tiny_world.start_date, tiny_world.end_date) == expected
    assert _job_dates(http, tiny_world.start_date, tiny_world.end_date) == expected
    assert _dates(http, path, today, tiny_world.end_date) == set()  # tomorrow has not happened
    # the same rows as without a clock, for the days that have happened
    free = TestClient(create_app(tiny_world, TOKEN))
    r1 = http.get(path, params={"start_date": tiny_world.start_date.isoformat(), "end_date": today.isoformat(),
                                "page_size": 10000}, headers=AUTH).json()["rows"]
    r2 = free.get(path, params={"start_date": tiny_world.start_date.isoformat(),
                                "end_date": (today - dt.timedelta(days=1)).isoformat(), "page_size": 10000},
                  headers=AUTH).json()["rows"]
    assert r1 == r2 and len(r1) > 0


def test_without_a_clock_every_day_of_the_world_has_happened(tiny_world):
    http = TestClient(create_app(tiny_world, TOKEN))
    dates = _dates(http, "/v1/reports/ad_daily_performance", tiny_world.start_date, tiny_world.end_date)
    assert max(dates) == tiny_world.end_date.isoformat() and len(dates) == tiny_world.config.days


def test_creatives_start_today_and_deliver_only_past_days(tiny_world, tmp_path):
    from admedia.creatives import CreativeStore

    today = tiny_world.start_date + dt.timedelta(days=5)
    store_file = str(tmp_path / "creatives.json")
    http = TestClient(create_app(tiny_world, TOKEN, creatives=CreativeStore(store_file), today=today))
    ag = tiny_world.ad_group_ids()[0]
    heads, descs = tiny_world.pool(ag)
    creative = {"tracking_id": "adc-clock-1", "ad_group_id": ag, "headline_1": heads[0]["text"],
                "headline_2": heads[1]["text"], "headline_3": heads[2]["text"],
                "description_1": descs[0]["text"], "description_2": descs[1]["text"], "traffic_share": 0.5}
    answer = http.post("/v1/creatives", json={"creatives": [creative]}, headers=AUTH).json()
    assert answer["accepted"] == ["adc-clock-1"]
    path = "/v1/reports/creative_performance"
    assert _dates(http, path, tiny_world.start_date, tiny_world.end_date) == set()  # it starts today
    # two days later (a new server on the same store, as the embedded simulator is per step)
    later = TestClient(create_app(tiny_world, TOKEN, creatives=CreativeStore(store_file),
                                  today=today + dt.timedelta(days=2)))
    assert _dates(later, path, tiny_world.start_date, tiny_world.end_date) == {
        today.isoformat(), (today + dt.timedelta(days=1)).isoformat()}


def test_without_a_clock_an_experiment_delivers_after_the_worlds_last_day(tiny_world):
    http = TestClient(create_app(tiny_world, TOKEN))
    ag = tiny_world.ad_group_ids()[0]
    heads, descs = tiny_world.pool(ag)
    creative = {"tracking_id": "adc-free-1", "ad_group_id": ag, "headline_1": heads[0]["text"],
                "headline_2": heads[1]["text"], "headline_3": heads[2]["text"],
                "description_1": descs[0]["text"], "description_2": descs[1]["text"]}
    assert http.post("/v1/creatives", json={"creatives": [creative]}, headers=AUTH).json()["accepted"]
    after = tiny_world.end_date + dt.timedelta(days=1)
    assert _dates(http, "/v1/reports/creative_performance", after, after + dt.timedelta(days=2)) == {
        (after + dt.timedelta(days=d)).isoformat() for d in range(3)}
