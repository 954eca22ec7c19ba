"""Figures of a trained model, stored in its bundle and shown in the UI (matplotlib, no display)."""

from __future__ import annotations

import io


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def model_plots(calibration, importance) -> dict[str, bytes]:
    """calibration.png (predicted vs observed CTR by bin) and feature_importance.png (gain)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    pred, obs = calibration["predicted_ctr"] * 100, calibration["observed_ctr"] * 100
    hi = max(pred.max(), obs.max()) * 1.05
    ax.plot([0, hi], [0, hi], color="grey", lw=1, ls="--")
    ax.plot(pred, obs, marker="o")
    ax.set_xlabel("predicted CTR (%)")
    ax.set_ylabel("observed CTR (%)")
    ax.set_title("Calibration (validation, by decile)")
    out["calibration.png"] = _png(fig)
    plt.close(fig)
    top = importance.head(20).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.barh(top["feature"], top["gain"])
    ax.set_xlabel("total gain")
    ax.set_title("Feature importance (top 20)")
    out["feature_importance.png"] = _png(fig)
    plt.close(fig)
    return out
