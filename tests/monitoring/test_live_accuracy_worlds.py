"""Live accuracy on simulated worlds, both ways: a model trained before a concept drift is flagged
after the drift day and not before; on the same world without drift it stays ok throughout.

Library level (no Dagster, no Beam; bench/live_accuracy.py prints the same on more seeds): the
shared featurisation and training, the prediction batch as the prediction_log asset writes it, and
the world's own daily delivery of its served ads. The experiment and the whole automated loop are
tested in tests/orchestration/test_automation_loop.py.
"""

import datetime as dt

import pandas as pd
import pytest

from bench.live_accuracy import measure, train_model
from monitoring import live_accuracy as la

TRAIN_DAYS = 10  # days 0..9: the model's history (the last 2 validate)
DRIFT_DAY = 13  # the rules change on day 13 of 20


def _history(world, model) -> pd.DataFrame:
    """Live accuracy of days TRAIN_DAYS..end for the model trained on the days before."""
    acc = measure(world, model, world.start_date + dt.timedelta(days=TRAIN_DAYS))
    return la.day_summary(acc)


@pytest.fixture(scope="module", params=[11, 12])
def worlds(request, tmp_path_factory):
    """(stable world, drifting world, model): the same world with and without a drift on
    DRIFT_DAY; their first DRIFT_DAY days are identical, so one model serves both."""
    from admedia.world import World, WorldConfig

    stable = World.generate(WorldConfig.preset("small", seed=request.param))
    drifting = World.generate(WorldConfig.preset("small", seed=request.param, drift_day=DRIFT_DAY))
    assert stable.daily_performance(stable.start_date, stable.start_date + dt.timedelta(days=TRAIN_DAYS - 1)) == \
        drifting.daily_performance(stable.start_date, stable.start_date + dt.timedelta(days=TRAIN_DAYS - 1))
    return stable, drifting, train_model(stable, TRAIN_DAYS, str(tmp_path_factory.mktemp("model")))


def test_the_check_trips_after_a_concept_drift_and_not_before(worlds):
    _, world, model = worlds
    days = _history(world, model)
    drift = world.config.drift_date
    before, after = days[days.date < drift], days[days.date >= drift]
    assert len(before) == DRIFT_DAY - TRAIN_DAYS and len(after) == world.config.days - DRIFT_DAY
    assert set(before.status) == {la.OK}, before
    assert set(after.status) <= {la.WARN, la.ERROR}, after
    assert after.calibration.max() < 0.9 < before.calibration.min()


def test_the_check_stays_quiet_on_the_stable_world(worlds):
    world, _, model = worlds
    days = _history(world, model)
    assert len(days) == world.config.days - TRAIN_DAYS
    assert set(days.status) == {la.OK}, days
