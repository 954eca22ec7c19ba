"""Make a model bundle on any Beam filesystem (gs://, local) readable as a local directory.

Workers (Dataflow) cannot see the submitting machine's disk: the bundle lives on GCS and each
worker process copies it once into a local cache before `load_bundle` verifies it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile

from models.bundle import BOOSTER_FILE, MANIFEST_FILE, TOKENIZER_FILE



def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def stage_file(uri: str, dest: str) -> str:
    from apache_beam.io.filesystems import FileSystems

    tmp = dest + ".part"
    with FileSystems.open(uri, mime_type="application/octet-stream",
                          compression_type="uncompressed") as src, open(tmp, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    os.replace(tmp, dest)
    return dest


def local_bundle(path: str, cache_root: str | None = None) -> str:
    """`path` itself when local, else a local copy (one per bundle URI, reused)."""
    if not is_remote(path):
        return path
    root = cache_root or os.path.join(tempfile.gettempdir(), "adcombo-bundles")
    dest = os.path.join(root, hashlib.sha256(path.encode("utf-8")).hexdigest()[:16])
    if os.path.exists(os.path.join(dest, BOOSTER_FILE)) and os.path.exists(os.path.join(dest, MANIFEST_FILE)):
        return dest  # a stale or torn copy fails load_bundle's checksums, never passes silently
    os.makedirs(dest, exist_ok=True)
    base = path.rstrip("/")
    stage_file(f"{base}/{MANIFEST_FILE}", os.path.join(dest, MANIFEST_FILE))
    with open(os.path.join(dest, MANIFEST_FILE), encoding="utf-8") as f:
        names = set(json.load(f).get("files", {})) | {BOOSTER_FILE, TOKENIZER_FILE}
    for name in sorted(names):
        if os.path.basename(name) != name:
            raise ValueError(f"bundle manifest at {path} lists a file outside the bundle: {name!r}")
        stage_file(f"{base}/{name}", os.path.join(dest, name))
    return dest  # load_bundle checks every checksum, so a torn copy is refused, not used
