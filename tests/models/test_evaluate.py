"""The evaluation command on the tiny world: runs end to end and reports every model."""
import json

from models.evaluate import format_table, is_holdout, main


def test_holdout_is_stable_and_sized():
    ids = [f"ag{i:05d}" for i in range(1, 2001)]
    held = [g for g in ids if is_holdout(g, 0.2)]
    assert 300 < len(held) < 500 and held == [g for g in ids if is_holdout(g, 0.2)]


def test_evaluate_command_on_the_tiny_world(tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["--world", "tiny", "--holdout_share", "0.4", "--valid_days", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert format_table(report) in printed
    truth = report["ground_truth_holdout"]
    assert set(truth) == {"lightgbm", "lightgbm_text_only", "logistic_regression", "asset_mean_ctr"}
    for row in truth.values():
        assert -1 <= row["spearman_mean"] <= 1 and row["ad_groups"] >= 1
    assert set(report["observed_holdout_valid"]) == set(truth)
    assert set(report["observed_holdout_valid"]["lightgbm"]) >= {"auc", "logloss", "calibration"}
