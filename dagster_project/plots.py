"""Matplotlib figures as Dagster metadata: a PNG embedded in Markdown, shown inline in the UI."""

import base64
import io

from dagster import MetadataValue


def png_markdown(png: bytes, alt: str) -> MetadataValue:
    return MetadataValue.md(f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})")


def figure_markdown(fig, alt: str) -> MetadataValue:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return png_markdown(buf.getvalue(), alt)


def new_figure(width: float = 6.0, height: float = 3.5):
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def psi_plot(top_features) -> MetadataValue:
    """PSI per feature, coloured by severity, with the WARN and ERROR lines (monitoring.drift)."""
    from monitoring.drift import PSI_ERROR, PSI_WARN

    fig, ax = new_figure()
    colours = {"error": "#c0392b", "warn": "#e67e22"}
    rows = top_features.iloc[::-1]
    ax.barh(rows["feature"], rows["psi"], color=[colours.get(s, "#7f8c8d") for s in rows["severity"]])
    ax.axvline(PSI_WARN, ls="--", c=colours["warn"], lw=1)
    ax.axvline(PSI_ERROR, ls="--", c=colours["error"], lw=1)
    ax.set_xlabel("PSI (training → this run)")
    return figure_markdown(fig, "PSI per feature")


def ctr_by_arm_plot(results) -> MetadataValue:
    """Per-arm CTR with its 95% interval (experiments.analysis.arm_results)."""
    fig, ax = new_figure(5, 3)
    ax.errorbar(results["arm"], results["ctr"] * 100,
                yerr=[(results["ctr"] - results["ctr_low"]) * 100, (results["ctr_high"] - results["ctr"]) * 100],
                fmt="o", capsize=6)
    ax.set_ylabel("CTR % (95% interval)")
    ax.set_title("CTR by arm")
    return figure_markdown(fig, "CTR by arm")
