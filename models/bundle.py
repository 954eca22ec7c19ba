"""The model bundle: everything scoring needs, versioned, checked on load.

A bundle is a directory `<root>/<version>/` holding the LightGBM booster, the SentencePiece model
it was trained with, the lexicon's term weights its features were computed with (models.term_weights),
the per-asset history effects fitted with that booster (models.asset_effects;
possibly empty), the reference distribution of its scores (a seeded sample of valid combinations of
the pools at training time, which the drift report compares each scoring run's sample with) and a
manifest (feature spec, checksums, metrics, training-data fingerprint).
It is written to a temporary sibling and renamed, so a reader never sees half a bundle.

Loading refuses, with a message that says what to fix: a missing or corrupt manifest, a file
whose checksum differs, another bundle format, a feature spec other than the code's, a tokenizer
produced by other tokenizer code (TOKENIZER_VERSION) or, when the caller names the tokenizer it
will use, a tokenizer other than the bundle's own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

BOOSTER_FILE = "booster.txt"
TOKENIZER_FILE = "tokenizer.model"
MANIFEST_FILE = "manifest.json"
ASSET_EFFECTS_FILE = "asset_effects.parquet"
SCORE_REFERENCE_FILE = "score_reference.parquet"
SCORE_REFERENCE_COLUMNS = ["ad_group_id", "row", "raw_score", "score"]
TERM_WEIGHTS_FILE = "term_weights.json"
# 2: manifest records the tokenizer spec; extra files (plots). 3: asset_effects.parquet.
# 4: asset effects per slot (effect_1..3: an asset's effect in each slot of its kind). Within format
# 4, score_reference.parquet is optional: bundles written before it load as they did (the drift
# report then compares with their served ads, and says so), and code before it reads new bundles.
# 5: term_weights.json, the lexicon's term weights every featurisation must read the lexicon with:
# code before it would score a format-5 bundle with unweighted features, so it must refuse it. This
# code still reads format 4 (no weights: every match counts 1, as those bundles were trained).
BUNDLE_FORMAT = 5
READABLE_FORMATS = (4, 5)


class BundleError(RuntimeError):
    """A bundle that cannot be used; the message says what to fix."""


def sha256_file(path: str) -> str:
    """The checksum the tokenizer spec records too (imported late: sentencepiece is heavy)."""
    from transforms.tokenizer import model_sha256

    return model_sha256(path)


def scoring_digest(manifest: dict) -> str:
    """A digest of what decides a bundle's scores (booster, tokenizer, asset effects), from its
    manifest's checksums: two bundles trained alike on the same data share it, whatever their
    version (which carries the wall-clock time of the build)."""
    files = manifest.get("files", {})
    parts = [f"{name}={files.get(name, '')}" for name in (BOOSTER_FILE, TOKENIZER_FILE, ASSET_EFFECTS_FILE)]
    if TERM_WEIGHTS_FILE in files:  # absent from format 4: those bundles keep their digest
        parts.append(f"{TERM_WEIGHTS_FILE}={files[TERM_WEIGHTS_FILE]}")
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def new_version(data_fingerprint: str, now: dt.datetime | None = None) -> str:
    """Sortable by time; milliseconds keep two trainings on the same data in one second apart."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}-{data_fingerprint[:8]}"


def save_bundle(
    root: str,
    booster_text: str,
    tokenizer_path: str,
    feature_spec: dict,
    metrics: dict,
    params: dict,
    data_fingerprint: str,
    version: str | None = None,
    extra_files: dict[str, bytes] | None = None,
    asset_effects=None,
    score_reference=None,
    score_reference_sample: dict | None = None,
    term_weights: dict | None = None,
) -> str:
    """Write a new bundle under `root` atomically and return its directory.

    extra_files (name → bytes, e.g. calibration.png) are stored and checksummed with the rest.
    asset_effects: the DataFrame of models.asset_effects.asset_effects for this booster (None: no
    ad group has history; scoring then uses the text model alone).
    score_reference: this model's scores of a seeded sample of valid combinations of the pools it
    was trained beside (SCORE_REFERENCE_COLUMNS; monitoring.report.score_reference), with how it was
    sampled (`score_reference_sample`, e.g. per_group, max_groups, seed) recorded in the manifest so
    that a scoring run samples alike. None: the bundle has no reference.
    term_weights: {category: {term: weight}} the booster's features were computed with
    (transforms.features.TermWeights); None or {}: every lexicon match counts 1.
    """
    import pandas as pd

    from models.asset_effects import EFFECT_COLUMNS
    from transforms.features import term_count
    from transforms.tokenizer import TOKENIZER_VERSION
    version = version or new_version(data_fingerprint)
    final = os.path.join(root, version)
    if os.path.exists(final):
        raise BundleError(f"bundle {final} already exists; versions are immutable")
    os.makedirs(root, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{version}.", dir=root)
    try:
        with open(os.path.join(tmp, BOOSTER_FILE), "w", encoding="utf-8") as f:
            f.write(booster_text)
        shutil.copyfile(tokenizer_path, os.path.join(tmp, TOKENIZER_FILE))
        effects = pd.DataFrame(columns=EFFECT_COLUMNS) if asset_effects is None else asset_effects
        missing = set(EFFECT_COLUMNS) - set(effects.columns)
        if missing:
            raise BundleError(f"asset effects lack columns {sorted(missing)}")
        effects[EFFECT_COLUMNS].astype({"ad_group_id": str, "kind": str, "text": str, "effect": "float64",
                                        "effect_1": "float64", "effect_2": "float64", "effect_3": "float64",
                                        "impressions": "int64", "ads": "int64"}) \
            .to_parquet(os.path.join(tmp, ASSET_EFFECTS_FILE), index=False)
        if not is_term_weights(term_weights or {}):
            raise BundleError("term weights are not {category: {term: weight}} with finite weights")
        with open(os.path.join(tmp, TERM_WEIGHTS_FILE), "w", encoding="utf-8") as f:
            json.dump({k: dict(sorted(v.items())) for k, v in sorted((term_weights or {}).items())}, f,
                      indent=1, ensure_ascii=False)
        names = [BOOSTER_FILE, TOKENIZER_FILE, ASSET_EFFECTS_FILE, TERM_WEIGHTS_FILE]
        reference_meta = None
        if score_reference is not None:
            missing = set(SCORE_REFERENCE_COLUMNS) - set(score_reference.columns)
            if missing:
                raise BundleError(f"score reference lacks columns {sorted(missing)}")
            score_reference[SCORE_REFERENCE_COLUMNS].astype(
                {"ad_group_id": str, "row": "int64", "raw_score": "float64", "score": "float64"}) \
                .to_parquet(os.path.join(tmp, SCORE_REFERENCE_FILE), index=False)
            names.append(SCORE_REFERENCE_FILE)
            reference_meta = {"rows": int(len(score_reference)),
                              "ad_groups": int(score_reference["ad_group_id"].nunique()),
                              "sample": dict(score_reference_sample or {})}
        reserved = (BOOSTER_FILE, TOKENIZER_FILE, MANIFEST_FILE, ASSET_EFFECTS_FILE, SCORE_REFERENCE_FILE,
                    TERM_WEIGHTS_FILE)
        for name, data in (extra_files or {}).items():
            if os.path.basename(name) != name or name in reserved:
                raise BundleError(f"extra bundle file name {name!r} is not allowed")
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
            names.append(name)
        manifest = {
            "format": BUNDLE_FORMAT,
            "version": version,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "feature_spec": feature_spec,
            "files": {name: sha256_file(os.path.join(tmp, name)) for name in names},
            "tokenizer": {"version": TOKENIZER_VERSION,
                          "sha256": sha256_file(os.path.join(tmp, TOKENIZER_FILE))},
            "training_data_fingerprint": data_fingerprint,
            "asset_effects": {"rows": int(len(effects)), "ad_groups": int(effects["ad_group_id"].nunique())},
            "term_weights": {"terms": term_count(term_weights)},
            **({"score_reference": reference_meta} if reference_meta is not None else {}),
            "metrics": metrics,
            "params": params,
        }
        with open(os.path.join(tmp, MANIFEST_FILE), "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2, ensure_ascii=False, default=_json_default)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _json_default(value: Any):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


@dataclass(frozen=True)
class ModelBundle:
    path: str
    manifest: dict
    booster: Any  # lightgbm.Booster
    effects: Any = None  # models.asset_effects.AssetEffects
    term_weights: dict | None = None  # transforms.features.TermWeights; None: format 4 ({}: none learnt)

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def tokenizer_path(self) -> str:
        return os.path.join(self.path, TOKENIZER_FILE)

    @property
    def feature_names(self) -> list[str]:
        return list(self.manifest["feature_spec"]["names"])

    @property
    def has_score_reference(self) -> bool:
        return "score_reference" in self.manifest

    @property
    def score_reference_sample(self) -> dict:
        """How the reference was sampled (per_group, max_groups, seed); {} without one."""
        return dict((self.manifest.get("score_reference") or {}).get("sample") or {})

    def score_reference(self):
        """The model's scores on a seeded sample of valid combinations of the pools it was trained
        beside (SCORE_REFERENCE_COLUMNS), or None for a bundle written before references. Read on
        demand (scoring never needs it); its checksum was verified when the bundle was loaded."""
        import pandas as pd

        if not self.has_score_reference:
            return None
        table = pd.read_parquet(os.path.join(self.path, SCORE_REFERENCE_FILE))
        missing = set(SCORE_REFERENCE_COLUMNS) - set(table.columns)
        if missing:
            raise BundleError(f"{SCORE_REFERENCE_FILE} of bundle {self.path} lacks columns {sorted(missing)}; "
                              "retrain the model")
        return table


def read_manifest(path: str) -> dict:
    manifest_path = os.path.join(path, MANIFEST_FILE)
    if not os.path.isdir(path):
        raise BundleError(f"model bundle {path} does not exist; materialise the ctr_model asset")
    try:
        with open(manifest_path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise BundleError(f"{manifest_path} is missing: {path} is not a complete model bundle") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{manifest_path} is corrupt ({exc}); retrain the model") from None


def check_bundle(path: str, expected_spec: dict | None, expected_tokenizer_sha256: str | None = None) -> dict:
    """Verify files, checksums, the feature spec and the tokenizer; return the manifest."""
    from transforms.tokenizer import TOKENIZER_VERSION

    manifest = read_manifest(path)
    if manifest.get("format") not in READABLE_FORMATS:
        raise BundleError(
            f"bundle {path} has format {manifest.get('format')!r}, this code reads "
            f"{' and '.join(map(str, READABLE_FORMATS))}; retrain the model with this code"
        )
    for key in ("version", "feature_spec", "files", "tokenizer"):
        if key not in manifest:
            raise BundleError(f"manifest of bundle {path} has no {key!r}: it is incomplete; retrain the model")
    if not {BOOSTER_FILE, TOKENIZER_FILE, ASSET_EFFECTS_FILE} <= set(manifest["files"]):
        raise BundleError(f"manifest of bundle {path} does not list {BOOSTER_FILE}, {TOKENIZER_FILE} "
                          f"and {ASSET_EFFECTS_FILE}")
    if manifest["format"] >= 5 and TERM_WEIGHTS_FILE not in manifest["files"]:
        raise BundleError(f"manifest of bundle {path} does not list {TERM_WEIGHTS_FILE}; retrain the model")
    if ("score_reference" in manifest) != (SCORE_REFERENCE_FILE in manifest["files"]):
        raise BundleError(f"manifest of bundle {path}: its score reference and its file list disagree "
                          f"({SCORE_REFERENCE_FILE}); the manifest was edited, retrain the model")
    for name, digest in manifest.get("files", {}).items():
        file_path = os.path.join(path, name)
        if not os.path.exists(file_path):
            raise BundleError(f"bundle {path} is missing {name}; copy the whole bundle directory")
        if sha256_file(file_path) != digest:
            raise BundleError(
                f"bundle file {file_path} does not match its checksum in the manifest: it was "
                "modified or corrupted; restore it or retrain the model"
            )
    tok = manifest["tokenizer"] if isinstance(manifest["tokenizer"], dict) else {}
    if tok.get("version") != TOKENIZER_VERSION:
        raise BundleError(
            f"bundle {path} was trained with a tokenizer from tokenizer code version {tok.get('version')!r}, "
            f"but this code tokenises as version {TOKENIZER_VERSION!r} (normalisation or SentencePiece "
            "settings changed); retrain the tokenizer and the model with this code"
        )
    if tok.get("sha256") != manifest["files"][TOKENIZER_FILE]:
        raise BundleError(f"bundle {path}: the manifest's tokenizer checksum disagrees with its file list; "
                          "the manifest was edited, retrain the model")
    if expected_tokenizer_sha256 is not None and expected_tokenizer_sha256 != tok["sha256"]:
        raise BundleError(
            f"bundle {path} was trained with tokenizer sha256 {tok['sha256'][:12]}…, but the tokenizer "
            f"given has sha256 {expected_tokenizer_sha256[:12]}…; score with the bundle's own "
            f"{TOKENIZER_FILE} (or retrain the model on the new tokenizer)"
        )
    if expected_spec is not None:
        got = manifest.get("feature_spec", {})
        if got.get("fingerprint") != expected_spec["fingerprint"]:
            if got.get("version") == expected_spec["version"]:  # a word list edited without a version bump
                what = (f"version {got.get('version')!r} as this code computes it, but with other lexicons, "
                        f"patterns or feature names (fingerprint {str(got.get('fingerprint'))[:12]}…, this code "
                        f"{expected_spec['fingerprint'][:12]}…)")
            else:
                what = (f"version {got.get('version')!r} ({len(got.get('names', []))} features) but this code "
                        f"computes version {expected_spec['version']!r} ({len(expected_spec['names'])} features)")
            raise BundleError(f"bundle {path} was trained with feature spec {what}; "
                              "retrain the model with this code or run the code version that trained it")
    return manifest


def load_bundle(path: str, expected_spec: dict | None = None,
                expected_tokenizer_sha256: str | None = None) -> ModelBundle:
    """Load and verify a bundle. `expected_spec` is normally `transforms.features.feature_spec()`."""
    import lightgbm as lgb
    import pandas as pd

    from models.asset_effects import AssetEffects

    manifest = check_bundle(path, expected_spec, expected_tokenizer_sha256)
    booster = lgb.Booster(model_file=os.path.join(path, BOOSTER_FILE))
    names = manifest["feature_spec"]["names"]
    if booster.num_feature() != len(names):
        raise BundleError(
            f"booster in {path} expects {booster.num_feature()} features, manifest lists {len(names)}"
        )
    effects = AssetEffects(pd.read_parquet(os.path.join(path, ASSET_EFFECTS_FILE)))
    return ModelBundle(path=path, manifest=manifest, booster=booster, effects=effects,
                       term_weights=read_term_weights(path, manifest))


def is_term_weights(weights) -> bool:
    """{category: {term: finite number}}, as transforms.features.TermWeights reads it."""
    def number(x) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

    return isinstance(weights, dict) and all(
        isinstance(v, dict) and all(number(x) for x in v.values()) for v in weights.values())


def read_term_weights(path: str, manifest: dict) -> dict | None:
    """The bundle's {category: {term: weight}} (checksum verified by check_bundle); None for a
    format-4 bundle, trained before term weights."""
    if TERM_WEIGHTS_FILE not in manifest["files"]:
        return None
    with open(os.path.join(path, TERM_WEIGHTS_FILE), encoding="utf-8") as f:
        weights = json.load(f)
    if not is_term_weights(weights):
        raise BundleError(f"{TERM_WEIGHTS_FILE} of bundle {path} is not {{category: {{term: weight}}}}; "
                          "retrain the model")
    return weights
