"""Score drift as `drift_report` computes it, on data folders that a run has filled, and the
reference populations it could be compared with.

    python -m bench.score_drift /tmp/sdr/demo /tmp/sdr/default [--designs] [--json out.json]

For each data folder (after `adcombo demo --world NAME --home FOLDER`, or `adcombo import` and
`adcombo run`): the production bundle, raw.ads, raw.asset_pools and the training set are read
through the product's own resources, and monitoring.report.bundle_drift_report (the function the asset
calls, with the bundle's score reference when it has one) builds the report. Prints the score
PSI, KS statistic and its p-value, both sample sizes, the status and its reasons.

`--designs` also measures the scoring run's sample (monitoring.report.sample_published_scores)
against each candidate reference, with the same statistics:
- `served`: the model's predictions of the training set's served ads, one per ad (the comparison
  before score references; bundles without one still fall back to it);
- `pools`: a sample of valid combinations of the pools taken by monitoring.report.score_reference
  (what ctr_model stores in the bundle), here with the pools as they are now;
- `pools-minus-5%`: the same, taken on the pools without a seeded 5% of ad groups, as if those
  ad groups had been added since the model was trained (nothing drifted: they come from the same
  world);
- `served-assets`: valid combinations of only the assets the group's served ads show.

`--model-from FOLDER` takes the production bundle and training set from another data folder:
an older production model scoring changed data (e.g. the `demo` world's model on the `shifted`
world's pools, which are the demo world's pools rewritten after the same served history).

`--write-selected FOLDER` writes the `selected` world as files for `adcombo import`: the demo
world (seed 7) with only the 2 best of each ad group's 8 served ads (by CTR over the whole
history) kept, their delivery and every pool unchanged. Served ads in real accounts are such a
selection (the advertiser's picks that survived), unlike the simulator's random served
combinations; nothing drifts in it.

    python -m bench.score_drift --write-selected /tmp/sdr/selected-files
    ADCOMBO_HOME=/tmp/sdr/selected adcombo import /tmp/sdr/selected-files && ADCOMBO_HOME=/tmp/sdr/selected adcombo run
    python -m bench.score_drift /tmp/sdr/selected --designs
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

DROP_SHARE = 0.05


SELECTED_KEEP = 2  # served ads kept per ad group in the `selected` world


def best_served(world, keep: int = SELECTED_KEEP) -> set[str]:
    """The `keep` served ads of each ad group with the highest CTR over the world's whole history
    (ties by ad id): what an account that paused its weaker ads still shows."""
    import pandas as pd

    perf = pd.DataFrame(world.daily_performance(world.start_date, world.end_date))
    sums = perf.groupby("ad_id", as_index=False)[["impressions", "clicks"]].sum()
    sums["ctr"] = sums["clicks"] / sums["impressions"].clip(lower=1)
    sums["ad_group_id"] = sums["ad_id"].map({a["ad_id"]: a["ad_group_id"] for a in world.ads()})
    sums = sums.sort_values(["ad_group_id", "ctr", "ad_id"], ascending=[True, False, True], kind="stable")
    return set(sums.groupby("ad_group_id").head(keep)["ad_id"])


def selected_tables(world, keep: int = SELECTED_KEEP) -> dict[str, list[dict]]:
    """raw.ads, raw.ad_daily_performance and raw.asset_pools rows of the world with only its best
    served ads (best_served): the other ads and their delivery left out, every pool kept."""
    kept = best_served(world, keep)
    return {"raw.ads": [a for a in world.ads() if a["ad_id"] in kept],
            "raw.ad_daily_performance": [r for r in world.daily_performance(world.start_date, world.end_date)
                                         if r["ad_id"] in kept],
            "raw.asset_pools": world.asset_pools()}


def write_selected(folder: str, preset: str = "demo", seed: int = 7) -> None:
    """The `selected` world as the three files of `adcombo import` (adcombo's own column names)."""
    import os

    import pandas as pd

    from admedia.world import World, WorldConfig
    from warehouse.schemas import to_frame

    tables = selected_tables(World.generate(WorldConfig.preset(preset, seed=seed)))
    os.makedirs(folder, exist_ok=True)
    for table, rows in tables.items():
        frame = to_frame(table, rows)
        if "date" in frame:
            frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")
        frame.to_csv(os.path.join(folder, f"{table.split('.')[1]}.csv"), index=False)


def _resources(home: str):
    from dagster_project.resources import build_resources
    from dagster_project.settings import Settings

    return build_resources(Settings.load(home=home))


def load_model_side(home: str):
    """(production bundle, its ScoringModel, training set rows) of a data folder."""
    import pandas as pd

    from models.fit import read_training_set
    from models.scoring import ScoringModel
    from transforms.features import feature_spec

    res = _resources(home)
    store = res["model_store"].store()
    bundle = store.load(store.require_current(), feature_spec())
    train, valid = read_training_set(res["paths"].training_files())
    return bundle, ScoringModel.from_bundle(bundle), pd.concat([train, valid], ignore_index=True)


def load_data_side(home: str):
    """(raw.ads rows, raw.asset_pools rows) of a data folder, as the asset reads them."""
    from warehouse.base import frame_rows

    with _resources(home)["warehouse"].open() as wh:
        return (frame_rows(wh.query("SELECT * FROM `raw.ads`")),
                frame_rows(wh.query("SELECT * FROM `raw.asset_pools`")))


def stats(reference, sample) -> dict:
    from monitoring.drift import ks, ks_pvalue, psi

    reference, sample = np.asarray(reference, dtype=np.float64), np.asarray(sample, dtype=np.float64)
    if not len(reference) or not len(sample):
        return {"n_ref": int(len(reference)), "n_sample": int(len(sample))}
    return {"psi": round(psi(reference, sample), 4), "ks": round(ks(reference, sample), 4),
            "p": float(f"{ks_pvalue(reference, sample):.3g}"), "n_ref": int(len(reference)),
            "n_sample": int(len(sample)), "sd_ref": round(float(np.std(reference)), 5),
            "sd_sample": round(float(np.std(sample)), 5)}


def as_the_asset(bundle, model, training, ad_rows, pool_rows) -> dict:
    from monitoring.report import bundle_drift_report

    started = time.perf_counter()
    report = bundle_drift_report(bundle, model, ad_rows, pool_rows, training)
    return {
        "status": report.status, "reasons": list(report.reasons),
        "score_reference": report.score_reference,
        "score_psi": round(report.score_psi, 4), "score_ks": round(report.score_ks, 4),
        "score_ks_pvalue": float(f"{report.score_ks_pvalue:.3g}"),
        "n_reference": report.n_reference_scores,
        "n_sample": report.n_sample_scores,
        "feature_error_share": round(report.error_share, 3),
        "seconds": round(time.perf_counter() - started, 1),
    }


def served_asset_pools(ad_rows, pool_rows) -> list[dict]:
    """Each ad group's pool rows restricted to the texts its served ads show."""
    from monitoring.report import TEXT_COLUMNS

    shown: dict[str, set] = {}
    for ad in ad_rows:
        shown.setdefault(str(ad["ad_group_id"]), set()).update((ad.get(c) or "") for c in TEXT_COLUMNS)
    return [p for p in pool_rows if (p.get("text") or "") in shown.get(str(p["ad_group_id"]), ())]


def designs(model, training, ad_rows, pool_rows) -> dict:
    from monitoring.report import score_reference, served_scores

    sample = score_reference(model, ad_rows, pool_rows)["score"].to_numpy()  # the scoring run's sample
    groups = sorted({str(p["ad_group_id"]) for p in pool_rows})
    rng = np.random.default_rng(0)
    dropped = set(rng.choice(groups, max(1, int(round(DROP_SHARE * len(groups)))), replace=False).tolist())
    fewer = [p for p in pool_rows if str(p["ad_group_id"]) not in dropped]
    refs = {
        "served": served_scores(model, ad_rows, training),
        "pools": score_reference(model, ad_rows, pool_rows)["score"].to_numpy(),
        f"pools-minus-{DROP_SHARE:.0%}": score_reference(model, ad_rows, fewer)["score"].to_numpy(),
        "served-assets": score_reference(model, ad_rows, served_asset_pools(ad_rows, pool_rows))["score"].to_numpy(),
    }
    return {name: stats(ref, sample) for name, ref in refs.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("homes", nargs="*", help="data folders a run has filled")
    parser.add_argument("--write-selected", default="", help="write the `selected` world's files here and stop")
    parser.add_argument("--model-from", default="", help="take the production bundle and training set from here")
    parser.add_argument("--designs", action="store_true", help="also measure each candidate reference")
    parser.add_argument("--json", default="", help="also write the rows here")
    args = parser.parse_args(argv)
    if args.write_selected:
        write_selected(args.write_selected)
        print(f"the selected world's files are in {args.write_selected}", flush=True)
        return 0
    rows = []
    for home in args.homes:
        bundle, model, training = load_model_side(args.model_from or home)
        ads, pools = load_data_side(home)
        row = {"home": home, "model_from": args.model_from or home, "model": bundle.version,
               "ad_groups": len({str(p["ad_group_id"]) for p in pools}),
               "asset": as_the_asset(bundle, model, training, ads, pools)}
        if args.designs:
            row["designs"] = designs(model, training, ads, pools)
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=2, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
