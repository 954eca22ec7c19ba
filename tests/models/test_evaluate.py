"""The evaluation command on the tiny world: runs end to end and reports every model."""
import json

from models.evaluate import fit_asset_residuals, format_table, is_holdout, main
import numpy as np


def test_holdout_is_stable_and_sized():
    ids = [f"ag{i:05d}" for i in range(1, 2001)]
    held = [g for g in ids if is_holdout(g, 0.2)]
    assert 300 < len(held) < 500 and held == [g for g in ids if is_holdout(g, 0.2)]


def test_asset_residuals_find_a_strong_asset():
    # Ads 0-2 show asset 0 (truly +0.3), ads 3-5 do not; the model (raw) knows nothing.
    rng = np.random.default_rng(0)
    members = [[0, 2], [0, 3], [0, 4], [1, 2], [1, 3], [1, 4]]
    imp = np.full(6, 50000)
    logit = -3 + np.array([0.3 if 0 in m else 0.0 for m in members])
    clk = rng.binomial(imp, 1 / (1 + np.exp(-logit)))
    _, r = fit_asset_residuals(np.zeros(6), imp, clk, members, 5)
    assert r[0] - r[1] > 0.1


def test_evaluate_command_on_the_tiny_world(tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["--world", "tiny", "--holdout_share", "0.4", "--valid_days", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert format_table(report) in printed
    truth = report["ground_truth_holdout"]
    assert set(truth) == {"lightgbm", "lightgbm_plus_asset_history", "logistic_regression", "asset_mean_ctr"}
    for row in truth.values():
        assert -1 <= row["spearman_mean"] <= 1 and row["ad_groups"] >= 1
    assert set(report["observed_holdout_valid"]["lightgbm"]) >= {"auc", "logloss", "calibration"}
