import numpy as np
import pytest

from experiments.assign import (
    CONTROL, PRODUCTION, ArmShares, Creative, assign_ad_group, control_index, default_experiment_id, tracking_id,
)


def test_tracking_ids_and_control_are_deterministic_and_salted():
    assert tracking_id("e1", "s", "ag1", "control") == tracking_id("e1", "s", "ag1", "control")
    ids = {tracking_id(e, s, g, a) for e in ("e1", "e2") for s in ("s", "t") for g in ("ag1", "ag2") for a in ("control", "production")}
    assert len(ids) == 16
    assert control_index("e1", "s", "ag1", 1000) == control_index("e1", "s", "ag1", 1000)
    picks = [control_index("e1", "s", f"ag{i}", 10) for i in range(2000)]
    counts = np.bincount(picks, minlength=10)
    assert counts.min() > 150  # roughly uniform over the valid combinations
    with pytest.raises(ValueError, match="no valid combination"):
        control_index("e1", "s", "ag1", 0)


def test_shares_normalise_and_require_control():
    assert ArmShares(2, 2, 0).normalised(False) == {PRODUCTION: 0.5, CONTROL: 0.5}
    assert set(ArmShares(0.4, 0.3, 0.3).normalised(True)) == {"production", "control", "challenger"}
    assert set(ArmShares(0.4, 0.3, 0.3).normalised(False)) == {"production", "control"}
    with pytest.raises(ValueError, match="control"):
        ArmShares(1, 0, 0).normalised(False)


def test_assignment_rows_carry_creative_share_and_label():
    creative = Creative(("h1", "h2", "h3", "d1", "d2"), ("A", "B", "C", "D", "E"), 0.05)
    rows = assign_ad_group("e1", "s", "ag1", {PRODUCTION: creative, CONTROL: creative}, {PRODUCTION: 0.5, CONTROL: 0.5})
    assert [r["arm"] for r in rows] == [CONTROL, PRODUCTION]
    assert rows[0]["tracking_id"] == tracking_id("e1", "s", "ag1", CONTROL)
    assert rows[1]["headline_3"] == "C" and rows[1]["d2_asset_id"] == "d2"


def test_the_default_experiment_id_is_the_start_day_and_the_model_digest():
    import datetime as dt

    start = dt.date(2025, 6, 17)
    assert default_experiment_id(start, "ab" * 32) == "exp-20250617-abababababab"
    assert default_experiment_id(start, "ab" * 32) != default_experiment_id(start + dt.timedelta(days=1), "ab" * 32)
    assert default_experiment_id(start, "ab" * 32) != default_experiment_id(start, "cd" * 32)
