"""How examples/byod_ja was made: a Google Ads (Japan) style export, with the blemishes real ones have.

    python examples/make_byod_ja.py [--out examples/byod_ja] [--days 5]

From a simulated world (admedia), written the way the files arrive from an advertiser:
- 広告.csv and アセット.csv in Shift-JIS/CP932 (what Japanese Excel saves), CRLF line ends;
- 広告の掲載結果.csv in UTF-16 with a BOM, tab-separated (Google Ads' "CSV (Excel)" download),
  with a report title and a date range above the header, YYYY/M/D dates, thousands separators,
  a cost column in yen that adcombo does not use, and the account's total row at the bottom;
- Japanese headers, mapped to adcombo's names by columns.yaml;
- most served ads with an empty description 2, many with an empty headline 3;
- Google Ads customizers: keyword insertion, location insertion with a default, a countdown.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import os
import unicodedata

import numpy as np

from admedia.world import World, WorldConfig
from transforms.text import ad_width

ADS_FILE, PERF_FILE, POOLS_FILE = "広告.csv", "広告の掲載結果.csv", "アセット.csv"
ADS_HEADERS = ["キャンペーン ID", "広告グループ ID", "広告 ID", "広告の種類", "業種", "キーワード", "広告見出し 1",
               "広告見出し 2", "広告見出し 3", "説明文 1", "説明文 2"]
ADS_FIELDS = ["campaign_id", "ad_group_id", "ad_id", None, "industry", "keyword", "headline_1", "headline_2",
              "headline_3", "description_1", "description_2"]
POOL_HEADERS = ["広告グループ ID", "アセット ID", "アセットの種類", "テキスト", "固定"]
POOL_FIELDS = ["ad_group_id", "asset_id", "asset_type", "text", "pinned_field"]
PERF_HEADERS = ["日", "広告 ID", "表示回数", "クリック数", "コンバージョン", "費用"]
COUNTDOWN = '{COUNTDOWN("2025/07/31 23:59:00","ja",5)}'

COLUMNS_YAML = """\
# Google Ads (Japanese UI) export headers → adcombo's columns (docs/ingestion.md).
ads:
  file: 広告.csv
  columns:
    キャンペーン ID: campaign_id
    広告グループ ID: ad_group_id
    広告 ID: ad_id
    業種: industry
    キーワード: keyword
    広告見出し 1: headline_1
    広告見出し 2: headline_2
    広告見出し 3: headline_3
    説明文 1: description_1
    説明文 2: description_2
  ignore: [広告の種類]
ad_daily_performance:
  file: 広告の掲載結果.csv
  columns:
    日: date
    広告 ID: ad_id
    表示回数: impressions
    クリック数: clicks
    コンバージョン: conversions
  ignore: [費用]   # yen; adcombo's cost_micros is optional
asset_pools:
  file: アセット.csv
  columns:
    広告グループ ID: ad_group_id
    アセット ID: asset_id
    アセットの種類: asset_type
    テキスト: text
    固定: pinned_field
"""


def cp932_safe(text: str) -> str:
    """What Excel would have saved: characters CP932 lacks become their CP932 look-alikes."""
    out = []
    for ch in text:
        for candidate in (ch, {"¥": "￥", "〜": "～", "−": "－", "‐": "－"}.get(ch, ""), unicodedata.normalize("NFKC", ch)):
            try:
                if candidate:
                    candidate.encode("cp932")
                    out.append(candidate)
                    break
            except UnicodeEncodeError:
                continue
        else:
            raise ValueError(f"{ch!r} in {text!r} has no CP932 form")
    return "".join(out)


def customise(world: World, rng: np.random.Generator) -> dict[str, dict[str, str]]:
    """Per ad group, text → text with customizers (the same rewrite in the pool and the served ads)."""
    keywords = {ad["ad_group_id"]: ad["keyword"] for ad in world.ads()}
    rewrites: dict[str, dict[str, str]] = {}
    for a in world.asset_pools():
        g, text = a["ad_group_id"], a["text"]
        kw = keywords.get(g, "")
        if kw and kw in text and rng.random() < 0.3:
            new = text.replace(kw, "{KeyWord:" + kw + "}", 1)
            rewrites.setdefault(g, {})[text] = new
    return rewrites


def make(out: str, days: int = 5, seed: int = 11) -> None:
    world = World.generate(WorldConfig.preset("tiny", n_ad_groups=24, n_advertisers=4, served_ads_per_group=4,
                                              days=days, seed=seed))
    rng = np.random.default_rng(seed)
    rewrites = customise(world, rng)
    os.makedirs(out, exist_ok=True)

    pools = []
    for a in world.asset_pools():
        text = rewrites.get(a["ad_group_id"], {}).get(a["text"], a["text"])
        pools.append({**a, "text": cp932_safe(text)})
    groups = sorted({a["ad_group_id"] for a in pools})
    for i, g in enumerate(groups[:3]):  # location insertion and a countdown in a few ad groups
        extra = [("HEADLINE", "{LOCATION(City):お近く}の教室で無料体験"),
                 ("DESCRIPTION", f"夏の特別キャンペーン終了まで残り{COUNTDOWN}。今すぐお申し込みください。")]
        for k, (kind, text) in enumerate(extra):
            assert ad_width(text) <= (30 if kind == "HEADLINE" else 90), text
            pools.append({"ad_group_id": g, "asset_id": f"{g}-x{k + 1}", "asset_type": kind, "text": text,
                          "pinned_field": ""})

    ads = []
    for ad in world.ads():
        ad = {**ad}
        for c in ("headline_1", "headline_2", "headline_3", "description_1", "description_2"):
            ad[c] = cp932_safe(rewrites.get(ad["ad_group_id"], {}).get(ad[c], ad[c]))
        if rng.random() < 0.75:
            ad["description_2"] = ""  # served with one description
        if rng.random() < 0.35:
            ad["headline_3"] = ""     # served with two headlines
        ads.append(ad)

    def write_cp932(name, headers, fields, rows):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(headers)
        for r in rows:
            w.writerow(["レスポンシブ検索広告" if f is None else r.get(f, "") for f in fields])
        with open(os.path.join(out, name), "wb") as f:
            f.write(buf.getvalue().encode("cp932"))

    write_cp932(ADS_FILE, ADS_HEADERS, ADS_FIELDS, ads)
    write_cp932(POOLS_FILE, POOL_HEADERS, POOL_FIELDS, pools)

    perf = world.daily_performance(world.start_date, world.end_date)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\r\n")
    w.writerow(["広告の掲載結果レポート"])
    w.writerow(["～".join(f"{d.year}年{d.month}月{d.day}日" for d in (world.start_date, world.end_date))])
    w.writerow(PERF_HEADERS)
    for r in perf:
        day = dt.date.fromisoformat(str(r["date"]))
        w.writerow([f"{day.year}/{day.month}/{day.day}", r["ad_id"], f"{r['impressions']:,}", f"{r['clicks']:,}",
                    r.get("conversions") or 0, f"{(r.get('cost_micros') or 0) / 1e6:,.0f}"])
    w.writerow(["合計: アカウント", "", f"{sum(r['impressions'] for r in perf):,}",
                f"{sum(r['clicks'] for r in perf):,}", sum(r.get("conversions") or 0 for r in perf),
                f"{sum(r.get('cost_micros') or 0 for r in perf) / 1e6:,.0f}"])
    with open(os.path.join(out, PERF_FILE), "wb") as f:
        f.write(buf.getvalue().encode("utf-16"))  # with a BOM, in this machine's byte order (LE)

    with open(os.path.join(out, "columns.yaml"), "w", encoding="utf-8") as f:
        f.write(COLUMNS_YAML)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "byod_ja"))
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    make(args.out, args.days, args.seed)
    print(f"wrote {args.out}")
