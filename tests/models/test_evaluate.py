"""The evaluation: end to end on the tiny world, where-the-gap-is maths on known numbers, summaries."""
import itertools
import json

import numpy as np
import pytest

from models.asset_effects import ASSET_PRIOR_SD
from models.evaluate import (MODELS, REFERENCES, format_summary, format_table, is_holdout, main, ordered_best, summarise,
                             summarise_truth, summary_plot, world_config)


def test_holdout_is_stable_and_sized():
    ids = [f"ag{i:05d}" for i in range(1, 2001)]
    held = [g for g in ids if is_holdout(g, 0.2)]
    assert 300 < len(held) < 500 and held == [g for g in ids if is_holdout(g, 0.2)]


def test_evaluate_command_on_the_tiny_world(tmp_path, capsys):
    out = tmp_path / "eval.json"
    # --ad_groups: the tiny world's 12 ad groups and 4 more (how shares grow with the served ads)
    # --term_prior_sd: how far a lexicon term may depart, fixed instead of chosen by held-out ad groups
    assert main(["--world", "tiny", "--holdout_share", "0.4", "--valid_days", "3", "--ad_groups", "16",
                 "--term_prior_sd", "0.25", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    run = report["runs"][0]
    assert format_table(run) in printed and format_summary(report["summary"]) in printed
    truth = run["ground_truth_holdout"]
    assert set(truth) == set(MODELS)
    for row in truth.values():
        assert -1 <= row["spearman_mean"] <= 1 and row["ad_groups"] >= 1
        # where the gap is: order loss + asset-choice loss + share = all of the oracle's lift
        assert row["ordered_share_of_oracle_lift"] >= row["top1_share_of_oracle_lift"] - 1e-12
        assert row["top1_share_of_oracle_lift"] + row["order_loss"] + row["asset_choice_loss"] == pytest.approx(1.0)
    assert set(run["observed_holdout_valid"]) == set(truth) - set(REFERENCES)
    # the known hidden quality of the served assets: a ceiling for what history effects add
    assert truth["known_quality"]["top1_share_of_oracle_lift"] > truth["lightgbm_text_only"]["top1_share_of_oracle_lift"]
    # the simulator's own rules and effects fitted around them, as the shipped ones are around the booster
    assert truth["known_rules_effects"]["top1_share_of_oracle_lift"] > truth["known_rules"]["top1_share_of_oracle_lift"]
    assert truth["known_rules"]["top1_share_of_oracle_lift"] > truth["lightgbm_text_only"]["top1_share_of_oracle_lift"]
    assert set(run["observed_holdout_valid"]["lightgbm"]) >= {"auc", "logloss", "calibration"}
    assert run["world"]["name"] == "tiny" and run["world"]["seed"] == 7 and run["world"]["n_ad_groups"] == 16
    assert len(run["asset_effects"]["slot_scales"]) == 5
    # the prior sd is learnt from the training groups unless given; too few of them here: the default
    assert run["asset_effects"]["prior_sd_learnt"] and run["asset_effects"]["prior_sd"] == ASSET_PRIOR_SD
    assert run["term_weights"]["terms"] > 0
    assert run["term_weights"]["prior_sd"] == 0.25 and not run["term_weights"]["prior_sd_learnt"]
    w = report["summary"]["worlds"]["tiny"]
    assert w["seeds"] == [7] and set(w["models"]["lightgbm"]) >= {"top1_share_of_oracle_lift", "order_loss"}


def test_unknown_world_is_refused_with_the_choices(capsys):
    assert main(["--world", "atlantis"]) == 2
    err = capsys.readouterr().err
    assert "unknown world 'atlantis'" in err and "visibility" in err and "default" in err


def test_worlds_are_variants_or_presets():
    assert world_config("visibility", 3).slot_visibility[2] < 0.5 and world_config("visibility", 3).seed == 3
    assert world_config("days7", 7).days == 7 and world_config("default", 7).days == 60
    assert world_config("drifting", 7).drift_day is not None


class _Group:
    """Two headline triples and description pairs that are orderings of each other."""

    def __init__(self):
        self.triples = np.array([list(t) for t in itertools.permutations([0, 1, 2])] + [[0, 1, 3]])
        self.pairs = np.array([[0, 1], [1, 0]])


def test_ordered_best_is_the_best_valid_order_of_the_same_assets():
    g = _Group()
    n = len(g.triples) * len(g.pairs)
    true = np.arange(n, dtype=float) / 100
    true[len(g.triples) * 2 - 3] = 5.0  # (0, 1, 3) with one pair order: other assets, never counted
    row = 0  # (0, 1, 2) with (0, 1)
    best = ordered_best(g, row, true)
    same_assets = [i * 2 + j for i in range(6) for j in range(2)]
    assert best == max(true[same_assets]) and best >= true[row]
    # a pin that forbids the other orders: only the row itself
    g.triples = g.triples[[0, 6]]
    assert ordered_best(g, 0, true[[0, 1, 12, 13]]) == max(true[[0, 1]])


def test_shares_on_known_lifts():
    rows = [{"spearman": 0.5, "lift": 1.0, "ordered_lift": 2.0, "oracle_lift": 4.0},
            {"spearman": 0.7, "lift": 3.0, "ordered_lift": 3.0, "oracle_lift": 4.0}]
    s = summarise_truth(rows)
    assert s["top1_share_of_oracle_lift"] == pytest.approx(0.5)
    assert s["ordered_share_of_oracle_lift"] == pytest.approx(5 / 8)
    assert s["order_loss"] == pytest.approx(1 / 8) and s["asset_choice_loss"] == pytest.approx(3 / 8)
    assert s["spearman_mean"] == pytest.approx(0.6) and s["top1_share_median"] == pytest.approx(0.5)


def _run(name, seed, shares):
    assert len(shares) == len(MODELS)
    truth = {m: {"top1_share_of_oracle_lift": v, "ordered_share_of_oracle_lift": v + 0.02, "order_loss": 0.02,
                 "asset_choice_loss": 0.98 - v, "spearman_mean": 0.8, "top1_share_median": v}
             for m, v in zip(MODELS, shares)}
    return {"world": {"name": name, "seed": seed, "days": 30}, "ground_truth_holdout": truth}


def test_summary_is_mean_and_sd_over_seeds_and_checks_the_baselines_on_every_seed():
    runs = [_run("visibility", 7, [0.84, 0.8, 0.7, 0.95, 0.75, 0.9, 0.6, 0.3]), _run("visibility", 3, [0.86, 0.8, 0.7, 0.95, 0.75, 0.9, 0.6, 0.3]),
            _run("noisy", 7, [0.80, 0.8, 0.7, 0.95, 0.75, 0.9, 0.6, 0.3]), _run("noisy", 3, [0.55, 0.8, 0.7, 0.95, 0.75, 0.9, 0.6, 0.3])]
    s = summarise(runs)
    vis = s["worlds"]["visibility"]["models"]["lightgbm"]["top1_share_of_oracle_lift"]
    assert vis["mean"] == pytest.approx(0.85) and vis["sd"] == pytest.approx(np.std([0.84, 0.86], ddof=1))
    assert s["worlds"]["visibility"]["beats_baselines_every_seed"]
    assert not s["worlds"]["noisy"]["beats_baselines_every_seed"]  # 55% < the logistic's 60% on seed 3
    assert s["market_variants_mean"]["worlds"] == ["visibility", "noisy"]
    assert s["market_variants_mean"]["lightgbm"] == pytest.approx((0.85 + 0.675) / 2)
    table = format_summary(s)
    assert "85.0% ± 1.4%" in table and "| NO |" in table
    png = summary_plot(s)
    assert png.startswith(b"\x89PNG") and len(png) > 5000
