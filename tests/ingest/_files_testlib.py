"""Real files for the import tests: the example folders rewritten in other encodings and shapes."""

import datetime as dt
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BYOD = ROOT / "examples" / "byod"
BYOD_JA = ROOT / "examples" / "byod_ja"
TODAY = dt.date(2025, 7, 1)  # the import day of the tests: the examples' data ends 2025-06-30
NAMES = ("ads", "ad_daily_performance", "asset_pools")
TABLES = {"ads": "raw.ads", "ad_daily_performance": "raw.ad_daily_performance", "asset_pools": "raw.asset_pools"}


def byod_text(name: str) -> str:
    """An example file's text as Japanese Excel would save it: ¥ as ￥ (CP932 has no U+00A5) and the
    wave dash 〜 (U+301C) as ～ (U+FF5E), which is what CP932 bytes 81 60 decode to."""
    return (BYOD / f"{name}.csv").read_text(encoding="utf-8").replace("¥", "￥").replace("〜", "～")


def write_folder(folder: Path, encoding: str = "utf-8", delimiter: str = ",", newline: str = "\n",
                 ext: str = ".csv", names=NAMES, transform=None) -> Path:
    """examples/byod as `encoding` (Python codec, "utf-16" writes a BOM), separator, line ends."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        text = byod_text(name)
        if delimiter != ",":
            import csv
            import io

            rows = list(csv.reader(io.StringIO(text)))
            buf = io.StringIO()
            csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
            text = buf.getvalue()
        if transform:
            text = transform(name, text)
        (folder / f"{name}{ext}").write_bytes(text.replace("\n", newline).encode(encoding))
    return folder


def state(wh) -> dict:
    """Every raw table and the dead letters, exactly (sorted rows): equal means untouched."""
    out = {}
    for t in ("raw.ads", "raw.ad_daily_performance", "raw.asset_pools", "raw.dead_letters"):
        if not wh.table_exists(t):
            out[t] = None
            continue
        frame = wh.query(f"SELECT * FROM `{t}`").astype(str)
        out[t] = sorted(map(tuple, frame.values.tolist()))
    return out


def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def files(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))
