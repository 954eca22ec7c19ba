import json
import os

import numpy as np
import pytest

from models.bundle import BundleError, check_bundle, load_bundle, save_bundle, scoring_digest, sha256_file
from models.train import interaction_groups, train_ctr_model

NAMES = ["h1__a", "h1__b", "h2__a", "h2__b", "h1_h2__jaccard"]
SPEC = {"version": "t1", "names": NAMES, "fingerprint": "f" * 64}


def synthetic(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(NAMES))).astype(np.float32)
    logit = -3 + 0.8 * X[:, 0] - 0.5 * X[:, 2] + 0.6 * X[:, 4]
    imp = rng.integers(200, 2000, size=n)
    clk = rng.binomial(imp, 1 / (1 + np.exp(-logit)))
    return X, imp, clk


@pytest.fixture(scope="module")
def trained():
    return train_ctr_model(*synthetic(800, 1), *synthetic(200, 2), NAMES)


@pytest.fixture
def bundle(tmp_path, trained):
    tok = tmp_path / "tok.model"
    tok.write_bytes(b"not really a sentencepiece model, but bytes with a checksum")
    return save_bundle(
        str(tmp_path / "bundles"), trained.booster.model_to_string(), str(tok), SPEC,
        trained.metrics, {"objective": "binary"}, "abcdef0123456789",
    )


def test_model_learns_and_reports_metrics(trained):
    assert trained.metrics["valid"]["auc"] > 0.6
    assert 0.8 < trained.metrics["valid"]["calibration"] < 1.25


def test_interaction_groups_keep_trees_on_one_position_or_pair():
    assert interaction_groups(NAMES) == [[0, 1], [2, 3], [0, 1, 2, 3, 4]]


def test_roundtrip_predicts_the_same(bundle, trained):
    loaded = load_bundle(bundle, expected_spec=SPEC)
    X, _, _ = synthetic(50, 3)
    np.testing.assert_allclose(loaded.booster.predict(X), trained.booster.predict(X), rtol=0, atol=1e-12)
    assert loaded.version == os.path.basename(bundle)
    assert loaded.feature_names == NAMES


def test_mismatched_feature_spec_fails_fast(bundle):
    other = {**SPEC, "version": "t2", "fingerprint": "0" * 64}
    with pytest.raises(BundleError, match="feature spec version 't1'.*computes version 't2'"):
        load_bundle(bundle, expected_spec=other)


def test_a_bundle_read_with_other_lexicons_is_refused_though_the_version_is_the_same(bundle):
    other = {**SPEC, "fingerprint": "0" * 64}  # same version and names, another word list
    with pytest.raises(BundleError, match="version 't1' as this code computes it, but with other lexicons"):
        load_bundle(bundle, expected_spec=other)


def test_corrupted_file_fails_with_checksum_message(bundle):
    with open(os.path.join(bundle, "booster.txt"), "a") as f:
        f.write("\n# tampered\n")
    with pytest.raises(BundleError, match="does not match its checksum"):
        check_bundle(bundle, SPEC)


def test_missing_or_broken_manifest(bundle, tmp_path):
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(str(tmp_path / "nope"))
    manifest = os.path.join(bundle, "manifest.json")
    with open(manifest, "w") as f:
        f.write("{broken")
    with pytest.raises(BundleError, match="corrupt"):
        check_bundle(bundle, SPEC)
    os.remove(manifest)
    with pytest.raises(BundleError, match="missing"):
        check_bundle(bundle, SPEC)


def test_versions_are_immutable(bundle, trained, tmp_path):
    version = os.path.basename(bundle)
    with open(os.path.join(bundle, "manifest.json")) as f:
        assert json.load(f)["version"] == version
    with pytest.raises(BundleError, match="immutable"):
        save_bundle(os.path.dirname(bundle), "x", str(tmp_path / "tok.model"), SPEC, {}, {}, "ab", version=version)


def _edit_manifest(bundle, **changes):
    path = os.path.join(bundle, "manifest.json")
    with open(path) as f:
        manifest = json.load(f)
    for key, value in changes.items():
        manifest[key] = value(manifest[key]) if callable(value) else value
    with open(path, "w") as f:
        json.dump(manifest, f)


def test_tokenizer_from_other_tokenizer_code_fails_fast(bundle):
    _edit_manifest(bundle, tokenizer=lambda t: {**t, "version": "0"})
    with pytest.raises(BundleError, match="tokenizer code version '0'.*retrain the tokenizer"):
        load_bundle(bundle, expected_spec=SPEC)


def test_tokenizer_other_than_the_bundles_fails_fast(bundle):
    from models.bundle import TOKENIZER_FILE, sha256_file

    own = sha256_file(os.path.join(bundle, TOKENIZER_FILE))
    assert load_bundle(bundle, expected_spec=SPEC, expected_tokenizer_sha256=own).version
    with pytest.raises(BundleError, match="score with the bundle's own tokenizer.model"):
        load_bundle(bundle, expected_spec=SPEC, expected_tokenizer_sha256="0" * 64)


def test_replaced_tokenizer_file_fails_with_checksum_message(bundle):
    with open(os.path.join(bundle, "tokenizer.model"), "wb") as f:
        f.write(b"another tokenizer")
    with pytest.raises(BundleError, match="tokenizer.model does not match its checksum"):
        load_bundle(bundle, expected_spec=SPEC)


def test_old_format_and_incomplete_manifest_fail_fast(bundle):
    _edit_manifest(bundle, format=1)
    with pytest.raises(BundleError, match="format 1.*retrain"):
        check_bundle(bundle, SPEC)
    _edit_manifest(bundle, format=2)  # before asset effects
    with pytest.raises(BundleError, match="format 2.*retrain"):
        check_bundle(bundle, SPEC)
    _edit_manifest(bundle, format=3)  # before per-slot asset effects
    with pytest.raises(BundleError, match="format 3.*retrain"):
        check_bundle(bundle, SPEC)
    _edit_manifest(bundle, format=4, tokenizer=None)
    with pytest.raises(BundleError):
        check_bundle(bundle, SPEC)


def test_extra_files_are_checksummed(tmp_path, trained):
    tok = tmp_path / "tok.model"
    tok.write_bytes(b"tok")
    path = save_bundle(str(tmp_path / "b"), trained.booster.model_to_string(), str(tok), SPEC, {}, {},
                       "feedbeef", extra_files={"calibration.png": b"\x89PNG..."})
    assert "calibration.png" in check_bundle(path, SPEC)["files"]
    with open(os.path.join(path, "calibration.png"), "wb") as f:
        f.write(b"x")
    with pytest.raises(BundleError, match="calibration.png does not match its checksum"):
        check_bundle(path, SPEC)


def test_asset_effects_travel_with_the_bundle(tmp_path, trained):
    import pandas as pd

    tok = tmp_path / "tok.model"
    tok.write_bytes(b"tok")
    table = pd.DataFrame({"ad_group_id": ["g1", "g1"], "kind": ["H", "D"], "text": ["送料無料", "今すぐ購入"],
                          "effect": [0.2, -0.1], "effect_1": [0.3, -0.12], "effect_2": [0.2, -0.08],
                          "effect_3": [0.1, 0.0], "impressions": [1000, 500], "ads": [3, 1]})
    path = save_bundle(str(tmp_path / "b"), trained.booster.model_to_string(), str(tok), SPEC, {}, {},
                       "feedbeef", asset_effects=table)
    loaded = load_bundle(path, SPEC)
    assert check_bundle(path, SPEC)["asset_effects"] == {"rows": 2, "ad_groups": 1}
    per_position = loaded.effects.for_pool("g1", ["送料無料", "other"], ["今すぐ購入"])
    assert [e.tolist() for e in per_position] == [[0.3, 0.0], [0.2, 0.0], [0.1, 0.0], [-0.12], [-0.08]]
    assert loaded.effects.for_pool("g2", ["送料無料"], ["今すぐ購入"]) is None
    # a bundle saved without effects has an empty table: scoring falls back to the text model
    plain = save_bundle(str(tmp_path / "c"), trained.booster.model_to_string(), str(tok), SPEC, {}, {}, "feedbeef")
    assert len(load_bundle(plain, SPEC).effects) == 0
    with open(os.path.join(path, "asset_effects.parquet"), "ab") as f:
        f.write(b"x")
    with pytest.raises(BundleError, match="asset_effects.parquet does not match its checksum"):
        load_bundle(path, SPEC)


def test_the_scoring_digest_names_what_scores_not_when_it_was_built(tmp_path, trained):
    """Two bundles built alike from the same data share the digest (the experiment id of a run on
    the same data is then the same in every run); another booster or tokenizer changes it."""
    tok = tmp_path / "tok.model"
    tok.write_bytes(b"tok")
    text = trained.booster.model_to_string()
    a = save_bundle(str(tmp_path / "b"), text, str(tok), SPEC, {}, {}, "feedbeef", version="20260101T000000000-a")
    b = save_bundle(str(tmp_path / "b"), text, str(tok), SPEC, {"other": 1}, {}, "feedbeef",
                    version="20261129T101500123-b", extra_files={"calibration.png": b"\x89PNG"})
    digest = scoring_digest(load_bundle(a, SPEC).manifest)
    assert digest == scoring_digest(load_bundle(b, SPEC).manifest) and len(digest) == 64
    other_booster = save_bundle(str(tmp_path / "c"), text.replace("objective=binary", "objective=binary "), str(tok),
                                SPEC, {}, {}, "feedbeef")
    tok2 = tmp_path / "tok2.model"
    tok2.write_bytes(b"another tokenizer")
    other_tokenizer = save_bundle(str(tmp_path / "d"), text, str(tok2), SPEC, {}, {}, "feedbeef")
    assert len({digest, scoring_digest(load_bundle(other_booster, SPEC).manifest),
                scoring_digest(load_bundle(other_tokenizer, SPEC).manifest)}) == 3


def test_the_score_reference_travels_with_the_bundle_checksummed(tmp_path, trained):
    """The drift report's reference (the model's scores of a sample of the pools at training) is a
    checksummed file of the bundle, with how it was sampled; a bundle without one loads as before."""
    import pandas as pd

    tok = tmp_path / "tok.model"
    tok.write_bytes(b"tok")
    reference = pd.DataFrame({"ad_group_id": ["g1", "g1", "g2"], "row": [3, 17, 0],
                              "raw_score": [-3.1, -2.9, -3.4], "score": [0.0431, 0.0522, 0.0323]})
    sample = {"per_group": 20, "max_groups": 300, "seed": 7}
    path = save_bundle(str(tmp_path / "b"), trained.booster.model_to_string(), str(tok), SPEC, {}, {},
                       "feedbeef", score_reference=reference, score_reference_sample=sample)
    loaded = load_bundle(path, SPEC)
    assert loaded.has_score_reference and loaded.score_reference_sample == sample
    pd.testing.assert_frame_equal(loaded.score_reference(), reference)
    assert loaded.manifest["score_reference"] == {"rows": 3, "ad_groups": 2, "sample": sample}
    assert "score_reference.parquet" in loaded.manifest["files"]
    # it decides no score: the scoring digest ignores it
    plain = save_bundle(str(tmp_path / "c"), trained.booster.model_to_string(), str(tok), SPEC, {}, {}, "feedbeef")
    assert scoring_digest(load_bundle(plain, SPEC).manifest) == scoring_digest(loaded.manifest)
    assert not load_bundle(plain, SPEC).has_score_reference and load_bundle(plain, SPEC).score_reference() is None

    with pytest.raises(BundleError, match="score reference lacks columns"):
        save_bundle(str(tmp_path / "d"), "x", str(tok), SPEC, {}, {}, "feedbeef",
                    score_reference=reference.drop(columns="raw_score"))
    with open(os.path.join(path, "score_reference.parquet"), "ab") as f:
        f.write(b"x")
    with pytest.raises(BundleError, match="score_reference.parquet does not match its checksum"):
        load_bundle(path, SPEC)
    # the manifest and its file list must agree: an edited manifest is refused either way
    _edit_manifest(plain, score_reference={"rows": 3, "ad_groups": 2, "sample": sample})
    with pytest.raises(BundleError, match="score reference and its file list disagree.*retrain"):
        load_bundle(plain, SPEC)


def test_term_weights_travel_with_the_bundle_and_format_4_still_loads(tmp_path, trained):
    """The lexicon's term weights decide the features, hence the scores: a checksummed file the
    scoring digest names. A format-4 bundle (trained before them) loads with none (every lexicon
    match counts 1, as it was trained); a format-5 manifest without them is refused."""
    tok = tmp_path / "tok.model"
    tok.write_bytes(b"tok")
    text = trained.booster.model_to_string()
    weights = {"urgency": {"今すぐ": 0.0, "限定": 1.4}, "cta": {"申し込み": 2.0}}
    path = save_bundle(str(tmp_path / "b"), text, str(tok), SPEC, {}, {}, "feedbeef", term_weights=weights)
    loaded = load_bundle(path, SPEC)
    assert loaded.term_weights == weights and loaded.manifest["term_weights"] == {"terms": 3}
    plain = save_bundle(str(tmp_path / "c"), text, str(tok), SPEC, {}, {}, "feedbeef")
    assert load_bundle(plain, SPEC).term_weights == {}
    assert scoring_digest(loaded.manifest) != scoring_digest(load_bundle(plain, SPEC).manifest)

    with open(os.path.join(path, "term_weights.json"), "w", encoding="utf-8") as f:
        json.dump({"urgency": {"今すぐ": 1.0}}, f)
    with pytest.raises(BundleError, match="term_weights.json does not match its checksum"):
        load_bundle(path, SPEC)
    for bad in ({"urgency": {"今すぐ": True}}, {"urgency": {"今すぐ": float("inf")}}, {"urgency": 1.0}):
        with pytest.raises(BundleError, match="term weights are not"):
            save_bundle(str(tmp_path / "bad"), text, str(tok), SPEC, {}, {}, "feedbeef", term_weights=bad)
    # well-formed JSON of another shape under a matching checksum (a bundle written by other code)
    other = save_bundle(str(tmp_path / "e"), text, str(tok), SPEC, {}, {}, "feedbeef")
    with open(os.path.join(other, "term_weights.json"), "w", encoding="utf-8") as f:
        json.dump({"urgency": ["今すぐ"]}, f)
    _edit_manifest(other, files=lambda files: {**files, "term_weights.json": sha256_file(
        os.path.join(other, "term_weights.json"))})
    with pytest.raises(BundleError, match="is not {category: {term: weight}}; retrain"):
        load_bundle(other, SPEC)

    # format 4: no term_weights.json (as written before it)
    with open(os.path.join(plain, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    files = {k: v for k, v in manifest["files"].items() if k != "term_weights.json"}
    _edit_manifest(plain, format=5, files=files)
    with pytest.raises(BundleError, match="does not list term_weights.json"):
        load_bundle(plain, SPEC)
    _edit_manifest(plain, format=4, files=files)
    os.remove(os.path.join(plain, "term_weights.json"))
    old = load_bundle(plain, SPEC)
    assert old.term_weights is None and len(scoring_digest(old.manifest)) == 64
