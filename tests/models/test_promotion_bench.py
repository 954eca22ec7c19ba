"""bench.promotion_check as a user runs it: real retrainings through the promotion check's comparison."""

import json

from bench import promotion_check


def test_the_benchmark_retrains_a_world_and_reports_the_checks_verdicts(tmp_path, capsys):
    out = tmp_path / "promotion_check.json"
    assert promotion_check.main(["--world", "tiny", "--seeds", "7", "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text(encoding="utf-8"))["rows"]
    assert (row["world"], row["seed"], row["days"]) == ("tiny", 7, 10)
    for case in ("retraining", "broken_unshrunk", "broken_none"):
        assert isinstance(row[case]["promoted"], bool)
        assert row[case]["paired_ad_groups"] == 12  # every tiny ad group served several ads
    # the broken candidates share the candidate's booster: only the history effects differ
    assert row["broken_none"]["relative_change_%"] == row["retraining"]["relative_change_%"]
    assert row["broken_none"]["relative_change_with_history_effects_%"] != row["retraining"][
        "relative_change_with_history_effects_%"]
    printed = capsys.readouterr().out
    assert "normal retrainings refused: " in printed and "| tiny | 7 |" in printed


def test_the_production_window_ends_a_retraining_period_before_the_candidates():
    import datetime as dt

    from admedia.world import World
    from models.evaluate import world_config

    world = World.generate(world_config("tiny", 7))
    ads = world.ads()
    last = world.end_date - dt.timedelta(days=promotion_check.RETRAIN_EVERY_DAYS)
    train, valid, split = promotion_check.training_frames(world, ads, {}, last)
    assert split["method"] == "last_days" and dt.date.fromisoformat(split["valid_from"]) <= last
    assert not train.empty and not valid.empty and set(train.split) == {"train"} and set(valid.split) == {"valid"}
    assert train.impressions.sum() + valid.impressions.sum() == sum(
        r["impressions"] for r in world.daily_performance(world.start_date, last))
