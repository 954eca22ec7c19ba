import subprocess
import sys

import numpy as np

from _transforms_testlib import make_pool, sp, sp_model_path  # noqa: F401 (fixtures)
from transforms.combinations import build_ad_group_combinations
from transforms.features import COMBINATION_FEATURE_NAMES, featurize_served_ad


def test_core_modules_do_not_import_beam():
    code = ("import sys, transforms, transforms.text, transforms.tokenizer, transforms.features, "
            "transforms.combinations; print('apache_beam' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_ad_group_output_ignores_input_order(sp):
    a = build_ad_group_combinations("格安SIM", make_pool(seed=1), sp, industry="telecom")
    b = build_ad_group_combinations("格安SIM", make_pool(seed=99), sp, industry="telecom")
    assert a.headline_ids == sorted(a.headline_ids) == b.headline_ids
    assert a.description_ids == b.description_ids
    assert a.combos.tobytes() == b.combos.tobytes() and a.X.tobytes() == b.X.tobytes()
    assert a.industry == "telecom" and a.keyword == "格安SIM"


def test_ad_group_pins_and_widths(sp):
    assets = make_pool(n_h=6, n_d=3)
    for a in assets:
        if a["asset_id"] in ("H00", "H03"):
            a["pinned_field"] = "HEADLINE_1"
        if a["asset_id"] == "D01":
            a["pinned_field"] = "DESCRIPTION_2"
        if a["asset_id"] == "H05":
            a["text"] = "とても長い見出しなので幅の上限を超えてしまいます"  # > 30 wide
    g = build_ad_group_combinations("格安SIM", assets, sp)
    ids = {g.row_asset_ids(i) for i in range(len(g))}
    assert {r[0] for r in ids} == {"H00", "H03"}
    assert {r[4] for r in ids} == {"D01"}
    assert all("H05" not in r for r in ids)
    # H1 from 2 pinned, H2/H3 from the 3 valid unpinned; D1 from 2 unpinned, D2 pinned
    assert len(g) == 2 * 3 * 2 * 2 * 1
    assert g.n_rejected == 6 * 5 * 4 * 3 * 2 - len(g)


def test_served_ad_with_missing_headline_3(sp):
    ad = {"headline_1": "今だけ半額", "headline_2": "送料無料", "headline_3": None,
          "description_1": "詳しくはこちら", "description_2": "", "keyword": None}
    f = dict(zip(COMBINATION_FEATURE_NAMES, featurize_served_ad(ad, sp).tolist()))
    assert f["h3__is_empty"] == 1 and f["d2__is_empty"] == 1 and f["h1__is_empty"] == 0
    assert np.isfinite(list(f.values())).all()
