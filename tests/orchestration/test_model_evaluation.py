"""The evaluation against the simulator's ground truth, as a user runs it: `adcombo evaluate` as
typed, and the on-demand `model_evaluation` asset on the data folder's instance (its table and
plot in the UI's metadata). It is never part of a run of every asset."""

import json
import subprocess
import sys
from pathlib import Path

from dagster import AssetKey

from adcombo.instance import open_instance
from dagster_project.definitions import build_definitions, run_asset_keys
from dagster_project.settings import Settings

ADCOMBO = str(Path(sys.executable).with_name("adcombo"))


def test_evaluate_command_writes_the_report_and_the_plot(tmp_path):
    out, plot = tmp_path / "evaluation.json", tmp_path / "evaluation.png"
    done = subprocess.run([ADCOMBO, "evaluate", "--world", "tiny", "--seeds", "7,3", "--out", str(out),
                           "--plot", str(plot)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    tiny = report["summary"]["worlds"]["tiny"]
    assert tiny["seeds"] == [7, 3] and len(report["runs"]) == 2
    share = tiny["models"]["lightgbm"]["top1_share_of_oracle_lift"]
    assert len(share["values"]) == 2 and share["sd"] >= 0
    gap = tiny["models"]["lightgbm"]
    # the split of what is lost adds up: captured + order loss + asset-choice loss = 100%
    assert abs(share["mean"] + gap["order_loss"]["mean"] + gap["asset_choice_loss"]["mean"] - 1) < 1e-9
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| tiny | 10 | 7,3 |" in done.stdout

    # As production trains: the text model learns from the held-out groups' training days too (not
    # their validation days, which stay the observed metrics).
    both = subprocess.run([ADCOMBO, "evaluate", "--world", "tiny", "--seeds", "7", "--booster-groups", "all",
                           "--out", str(tmp_path / "all.json")], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert both.returncode == 0, both.stderr[-3000:]
    others, every = report["runs"][0]["split"], json.loads((tmp_path / "all.json").read_text())["runs"][0]["split"]
    assert (others["booster_groups"], every["booster_groups"]) == ("others", "all")
    assert every["train_examples"] > others["train_examples"]
    assert every["holdout_valid_examples"] == others["holdout_valid_examples"] > 0

    bad = subprocess.run([ADCOMBO, "evaluate", "--world", "nosuch"], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert bad.returncode == 2 and "unknown world 'nosuch'" in bad.stderr and "Traceback" not in bad.stderr


def test_model_evaluation_is_materialised_on_demand_with_a_table_and_a_plot(tmp_path):
    settings = Settings.load(home=tmp_path)
    defs = build_definitions(settings)
    assert AssetKey("model_evaluation") not in run_asset_keys(defs)  # `adcombo run` leaves it out
    job = defs.resolve_implicit_global_asset_job_def()
    with open_instance(tmp_path) as instance:
        result = job.execute_in_process(
            instance=instance, asset_selection=[AssetKey("model_evaluation")],
            run_config={"ops": {"model_evaluation": {"config": {"worlds": "tiny", "seeds": "7",
                                                                "max_truth_groups": 3, "booster_groups": "all"}}}})
        assert result.success
        meta = instance.get_latest_materialization_event(AssetKey("model_evaluation")).asset_materialization.metadata
    (row,) = [r.data for r in meta["summary"].value.records]
    assert row["world"] == "tiny" and row["seeds"] == "7"
    assert 0 <= row["ordered_share_%"] <= 100 and row["top1_share_%"] <= row["ordered_share_%"]
    # where the gap is: the text model's part (known rules + effects) and the history's (known quality)
    assert {"known_quality_%", "known_rules_%", "known_rules_effects_%"} <= set(row)
    assert meta["plot"].value.startswith("![top-1 share")
    report = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    assert report["runs"][0]["world"]["name"] == "tiny"
    # as production trains: the text model learnt from the held-out groups' training days too
    assert report["runs"][0]["split"]["booster_groups"] == meta["booster_groups"].value == "all"
