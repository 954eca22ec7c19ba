"""Matplotlib figures as Dagster metadata: a PNG embedded in Markdown, shown inline in the UI."""

import base64
import io

from dagster import MetadataValue


def figure_markdown(fig, alt: str) -> MetadataValue:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    encoded = base64.b64encode(buf.getvalue()).decode("ascii")
    return MetadataValue.md(f"![{alt}](data:image/png;base64,{encoded})")


def new_figure(width: float = 6.0, height: float = 3.5):
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))
