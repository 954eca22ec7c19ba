import numpy as np

from monitoring.drift import PSI_ERROR, empty_rate, feature_drift, ks, oov_rate, psi, severity


def test_psi_is_small_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=20000), rng.normal(size=20000)
    assert psi(a, b) < 0.01 and ks(a, b) < 0.03
    assert psi(a, rng.normal(1.0, 1.0, size=20000)) > PSI_ERROR


def test_discrete_flags_compare_proportions():
    rng = np.random.default_rng(1)
    flag_a = (rng.random(10000) < 0.2).astype(float)
    flag_b = (rng.random(10000) < 0.6).astype(float)
    assert psi(flag_a, flag_a[::-1]) < 1e-9
    assert psi(flag_a, flag_b) > PSI_ERROR


def test_feature_drift_severity_and_rates():
    rng = np.random.default_rng(2)
    exp = np.column_stack([rng.normal(size=5000), (rng.random(5000) < 0.3)])
    act = np.column_stack([rng.normal(2, 1, size=5000), (rng.random(5000) < 0.3)])
    d = {f.feature: f for f in feature_drift(["width", "flag"], exp, act)}
    assert d["width"].severity == "error" and d["flag"].severity == "ok"
    assert severity(0.15, 0.1, 0.25) == "warn"
    assert oov_rate([[1, 0, 2], [0]], unk_id=0) == 0.5
    assert empty_rate(["a", "", " "]) == 2 / 3
