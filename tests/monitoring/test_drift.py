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


def test_score_drift_must_be_significant_to_count():
    from monitoring.report import DriftReport

    rng = np.random.default_rng(3)

    def report(train, sample):
        from monitoring.drift import ks, ks_pvalue, psi

        return DriftReport(features=[], oov_train=0.0, oov_score=0.0, empty_train=0.0, empty_score=0.0,
                           score_psi=psi(train, sample), score_ks=ks(train, sample), n_train_texts=1,
                           n_score_texts=1, score_ks_pvalue=ks_pvalue(train, sample))

    # Same distribution, tiny samples: PSI over ten bins is large by chance alone; not drift.
    small = [report(rng.normal(0, 1, 60), rng.normal(0, 1, 120)) for _ in range(40)]
    assert max(r.score_psi for r in small) > 0.25
    assert all(r.status == "ok" for r in small if r.score_ks_pvalue >= 0.01)
    # A real shift on real volumes: significant and past PSI 0.25.
    shifted = report(rng.normal(0, 1, 5000), rng.normal(0.8, 1, 5000))
    assert shifted.status == "error" and "score PSI" in shifted.reasons[0]


def test_score_drift_counts_each_served_ad_once():
    """The training set has a row per served ad and split; the KS test must see one score per ad."""
    import pandas as pd

    from monitoring.report import served_ads_once

    training = pd.DataFrame({"ad_id": ["a1", "a2", "a1", "a3", "a2", "gone"], "split": list("ttvtvt")})
    kept = served_ads_once(training, {"a1", "a2", "a3"})
    assert kept["ad_id"].tolist() == ["a1", "a2", "a3"] and kept["split"].tolist() == ["t", "t", "t"]
