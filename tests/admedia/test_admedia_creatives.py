"""Experiment creatives: submitted over HTTP, kept across servers, delivered from the ground truth."""

import datetime as dt

import pytest

from admedia.client import AdMediaClient
from admedia.creatives import CreativeStore, delivery
from admedia.server import serve_in_background

TOKEN = "t0k"


def creative(world, ag, tracking_id, share=0.5, pick=0):
    heads, descs = world.pool(ag)
    combo = world.valid_combinations(ag)[pick]
    texts = [heads[combo[0]]["text"], heads[combo[1]]["text"], heads[combo[2]]["text"],
             descs[combo[3]]["text"], descs[combo[4]]["text"]]
    return dict(zip(["headline_1", "headline_2", "headline_3", "description_1", "description_2"], texts),
                tracking_id=tracking_id, ad_group_id=ag, traffic_share=share)


def test_submit_over_http_then_a_new_server_serves_their_delivery(tiny_world, tmp_path):
    store = str(tmp_path / "creatives.json")
    ag = tiny_world.ad_group_ids()[0]
    items = [creative(tiny_world, ag, "adc-a"), creative(tiny_world, ag, "adc-b", pick=-1),
             {"tracking_id": "adc-bad", "ad_group_id": "nope"}]
    with serve_in_background(tiny_world, TOKEN, creatives_path=store) as url, AdMediaClient(url, TOKEN) as client:
        answer = client.submit_creatives(items)
        assert answer["accepted"] == ["adc-a", "adc-b"]
        assert len(answer["rejected"]) == 1 and "missing fields" in answer["rejected"][0]["reason"]
        # Submitting again is idempotent: a retried POST must not fail or duplicate.
        assert client.submit_creatives(items[:2])["accepted"] == ["adc-a", "adc-b"]
    first = tiny_world.end_date + dt.timedelta(days=1)
    with serve_in_background(tiny_world, TOKEN, creatives_path=store) as url, AdMediaClient(url, TOKEN) as client:
        rows = list(client.iter_creative_performance(first - dt.timedelta(days=3), first + dt.timedelta(days=6)))
    assert {r["tracking_id"] for r in rows} == {"adc-a", "adc-b"}
    assert min(r["date"] for r in rows) == first.isoformat()  # served from the day after the world's last day
    assert len(rows) == 2 * 7
    assert all(0 <= r["clicks"] <= r["impressions"] for r in rows)


def test_delivery_follows_the_true_ctr_and_is_range_independent(tiny_world):
    ag = tiny_world.ad_group_ids()[1]
    truth = tiny_world.true_ctr_combinations(ag, tiny_world.valid_combinations(ag))
    best, worst = int(truth.argmax()), int(truth.argmin())
    store = CreativeStore()
    start = tiny_world.end_date + dt.timedelta(days=1)
    store.submit(tiny_world, [creative(tiny_world, ag, "best", pick=best), creative(tiny_world, ag, "worst", pick=worst)], start)
    rows = delivery(tiny_world, store.all(), start, start + dt.timedelta(days=59))
    ctr = {t: sum(r["clicks"] for r in rows if r["tracking_id"] == t) / sum(r["impressions"] for r in rows if r["tracking_id"] == t)
           for t in ("best", "worst")}
    assert ctr["best"] > ctr["worst"]
    assert ctr["best"] == pytest.approx(truth[best], rel=0.25)
    later = delivery(tiny_world, store.all(), start + dt.timedelta(days=5), start + dt.timedelta(days=5))
    assert later == [r for r in rows if r["date"] == (start + dt.timedelta(days=5)).isoformat()]


def test_a_tracking_id_cannot_be_reused_for_another_creative(tiny_world):
    ag = tiny_world.ad_group_ids()[0]
    store = CreativeStore()
    day = tiny_world.end_date
    assert store.submit(tiny_world, [creative(tiny_world, ag, "x")], day)[0] == ["x"]
    accepted, rejected = store.submit(tiny_world, [creative(tiny_world, ag, "x", pick=-1)], day)
    assert accepted == [] and "already used" in rejected[0]["reason"]
