"""Long steps say how far they are: scoring workers' progress lines reach the orchestrator's log,
training rounds are reported while LightGBM trains."""

import numpy as np

import models.handler as handler
from pipelines import score
from pipelines.options import relay_progress


def test_scoring_progress_lines_are_relayed(tiny_snapshot, tiny_bundle, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(handler, "PROGRESS_SECONDS", 0.0)  # a line per ad group
    lines = []
    with relay_progress(lines.append), caplog.at_level("WARNING"):
        score.run(["--runner=FnApiRunner", "--direct_running_mode=in_memory",
                   f"--pools={tiny_snapshot['raw.asset_pools']}", f"--ads={tiny_snapshot['raw.ads']}",
                   f"--bundle={tiny_bundle}", f"--output={tmp_path / 'top' / 'part'}", "--top_k=2"])
    assert lines and lines[-1].startswith("worker scored ") and "ad groups/s" in lines[-1]
    # no framework noise: Beam's RunInference measures memory instead of warning that it cannot
    assert not [r for r in caplog.records if "Resource module is not available" in r.getMessage()]
    counts = [int(line.split()[2]) for line in lines]
    assert counts == sorted(counts) and counts[-1] >= 10
    with relay_progress(lines.append):
        pass
    n = len(lines)
    handler.progress.info("adcombo progress: after the block")  # not relayed any more, not printed
    assert len(lines) == n


def test_training_reports_rounds_as_it_goes():
    from models.train import Progress, train_ctr_model

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    imp = rng.integers(100, 1000, 400)
    clk = rng.binomial(imp, 0.05)
    lines = []
    train_ctr_model(X[:300], imp[:300], clk[:300], X[300:], imp[300:], clk[300:], ["h1__a", "h2__b", "d1__c"],
                    num_boost_round=30, progress=Progress(lines.append, seconds=0.0))
    assert lines and all("round" in line and "rounds/s" in line for line in lines)
