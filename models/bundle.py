"""The model bundle: everything scoring needs, versioned, checked on load.

A bundle is a directory `<root>/<version>/` holding the LightGBM booster, the SentencePiece model
it was trained with and a manifest (feature spec, checksums, metrics, training-data fingerprint).
It is written to a temporary sibling and renamed, so a reader never sees half a bundle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

BOOSTER_FILE = "booster.txt"
TOKENIZER_FILE = "tokenizer.model"
MANIFEST_FILE = "manifest.json"
BUNDLE_FORMAT = 1


class BundleError(RuntimeError):
    """A bundle that cannot be used; the message says what to fix."""


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def new_version(data_fingerprint: str, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%S}-{data_fingerprint[:8]}"


def save_bundle(
    root: str,
    booster_text: str,
    tokenizer_path: str,
    feature_spec: dict,
    metrics: dict,
    params: dict,
    data_fingerprint: str,
    version: str | None = None,
) -> str:
    """Write a new bundle under `root` atomically and return its directory."""
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
        manifest = {
            "format": BUNDLE_FORMAT,
            "version": version,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "feature_spec": feature_spec,
            "files": {
                name: sha256_file(os.path.join(tmp, name)) for name in (BOOSTER_FILE, TOKENIZER_FILE)
            },
            "training_data_fingerprint": data_fingerprint,
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

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def tokenizer_path(self) -> str:
        return os.path.join(self.path, TOKENIZER_FILE)

    @property
    def feature_names(self) -> list[str]:
        return list(self.manifest["feature_spec"]["names"])


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


def check_bundle(path: str, expected_spec: dict | None) -> dict:
    """Verify files, checksums and the feature spec; return the manifest."""
    manifest = read_manifest(path)
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(
            f"bundle {path} has format {manifest.get('format')!r}, this code reads {BUNDLE_FORMAT}"
        )
    for name, digest in manifest.get("files", {}).items():
        file_path = os.path.join(path, name)
        if not os.path.exists(file_path):
            raise BundleError(f"bundle {path} is missing {name}; copy the whole bundle directory")
        if sha256_file(file_path) != digest:
            raise BundleError(
                f"bundle file {file_path} does not match its checksum in the manifest: it was "
                "modified or corrupted; restore it or retrain the model"
            )
    if expected_spec is not None:
        got = manifest.get("feature_spec", {})
        if got.get("fingerprint") != expected_spec["fingerprint"]:
            raise BundleError(
                f"bundle {path} was trained with feature spec version {got.get('version')!r} "
                f"({len(got.get('names', []))} features) but this code computes version "
                f"{expected_spec['version']!r} ({len(expected_spec['names'])} features); "
                "retrain the model with this code or run the code version that trained it"
            )
    return manifest


def load_bundle(path: str, expected_spec: dict | None = None) -> ModelBundle:
    """Load and verify a bundle. `expected_spec` is normally `transforms.features.feature_spec()`."""
    import lightgbm as lgb

    manifest = check_bundle(path, expected_spec)
    booster = lgb.Booster(model_file=os.path.join(path, BOOSTER_FILE))
    names = manifest["feature_spec"]["names"]
    if booster.num_feature() != len(names):
        raise BundleError(
            f"booster in {path} expects {booster.num_feature()} features, manifest lists {len(names)}"
        )
    return ModelBundle(path=path, manifest=manifest, booster=booster)
