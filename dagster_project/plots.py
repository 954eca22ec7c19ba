"""Matplotlib figures as Dagster metadata: a PNG embedded in Markdown, shown inline in the UI."""

import base64
import io
import math

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


def _cjk_font() -> str | None:
    """A font family with Japanese glyphs, registered with matplotlib if it is installed but not yet
    in matplotlib's font cache (the cache predates fonts installed later); None if there is none."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    for name in _CJK_FAMILIES:
        if name in known:
            return name
    for path in font_manager.findSystemFonts():
        if any(k in path for k in ("CJK", "ipag", "IPA", "Gothic", "Takao")):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    known = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in _CJK_FAMILIES if name in known), None)


_CJK_FAMILIES = ("Noto Sans CJK JP", "IPAexGothic", "IPAGothic", "TakaoGothic", "Noto Serif CJK JP")


def _term_label(kind: str, positions: str, texts: str, ids: str, with_texts: bool, width: int = 22) -> str:
    if kind == "other":
        return texts
    slots = positions.replace(",", "×")
    what = texts if with_texts else ids
    if kind == "pair":
        what = " × ".join(_short(t, width // 2) for t in what.split(" / " if with_texts else ","))
    else:
        what = _short(what, width)
    return f"{'history ' if kind == 'history' else ''}{slots}  {what}"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def waterfall_plot(terms, largest: int = 10) -> MetadataValue:
    """Why a combination scores what it scores (models.explain): per explained combination, the
    terms as a waterfall from the ad group's average ad (the constant) to the raw score, the
    `largest` terms by size first and the rest summed in one bar. terms: rows of
    serving.explanations (ad_group_id, rank, kind, positions, asset_ids, texts, value, raw_score)
    of a few (ad group, rank)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    groups = list(terms.groupby(["ad_group_id", "rank"], sort=True))
    font = _cjk_font()  # without one, asset ids stand in for the texts (no empty boxes)
    heights = [min(len(g) - 1, largest + 1) * 0.3 + 0.9 for _, g in groups]
    fig, axes = plt.subplots(len(groups), 1, figsize=(8.5, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, ((ad_group_id, rank), g) in zip(axes[:, 0], groups):
        constant = float(g.loc[g["kind"] == "constant", "value"].sum())
        rest = g[g["kind"] != "constant"]
        rest = rest.reindex(rest["value"].abs().sort_values(ascending=False, kind="stable").index)
        if len(rest) > largest + 1:
            small = rest.iloc[largest:]
            rest = pd.concat([rest.iloc[:largest], pd.DataFrame([{
                "kind": "other", "positions": "", "asset_ids": "", "value": float(small["value"].sum()),
                "texts": f"{len(small)} other terms (each within ±{small['value'].abs().max():.3f})"}])])
        start, y = constant, 0
        labels = []
        for r in rest.itertuples():
            ax.barh(y, r.value, left=start, color="#27ae60" if r.value >= 0 else "#c0392b")
            ax.text(start + r.value, y, f" {r.value:+.3f}" if r.value >= 0 else f"{r.value:+.3f} ",
                    va="center", ha="left" if r.value >= 0 else "right", fontsize=7)
            labels.append(_term_label(r.kind, r.positions, r.texts, r.asset_ids, font is not None))
            start += r.value
            y += 1
        raw = float(g["raw_score"].iloc[0])
        ax.axvline(constant, color="#7f8c8d", lw=1, ls=":")
        ax.axvline(raw, color="#2c3e50", lw=1.2)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=7, fontfamily=[font, "DejaVu Sans"] if font else None)
        ax.invert_yaxis()
        ax.set_title(f"{ad_group_id} #{rank}: average ad {constant:.3f} → raw score {raw:.3f} "
                     f"(predicted CTR {100 / (1 + math.exp(-raw)):.2f}%)", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.use_sticky_edges = False  # bars start at their base: let the margins show the labels
        ax.margins(x=0.1)
    axes[-1, 0].set_xlabel("raw score (log-odds of a click); bars: each term's contribution, largest first",
                           fontsize=7)
    fig.tight_layout()
    return figure_markdown(fig, "Explanation waterfall")
