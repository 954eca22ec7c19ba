"""The model store: versioned bundles and the two pointers that say which one is which.

    <root>/bundles/<version>/   immutable bundles (models.bundle)
    <root>/CANDIDATE             the newest trained bundle, waiting for the promotion check
    <root>/CURRENT               the production bundle, written only by promotion

`root` is a local folder or a `gs://` prefix; the interface is the same. A bundle is always built
in a local folder first (models.bundle.save_bundle writes atomically), then `add` publishes it: a
no-op in a local store, an upload to gs:// otherwise. Readers that need files (the drift report,
the challenger arm, Beam workers) get a local copy with `local_path`; Dataflow jobs get the
store's own `uri`.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from models.staging import is_remote, local_bundle

CANDIDATE, CURRENT = "CANDIDATE", "CURRENT"


class ModelStoreError(RuntimeError):
    """A pointer is missing or a bundle cannot be found; the message says what to run."""


def _join(root: str, *parts: str) -> str:
    if is_remote(root):
        return "/".join([root.rstrip("/"), *parts])
    return os.path.join(root, *parts)


class ModelStore:
    def __init__(self, root: str):
        if not root:
            raise ModelStoreError("the model store needs a folder or gs:// prefix (ADCOMBO_MODEL_STORE)")
        self.root = root if is_remote(root) else os.path.abspath(root)

    @property
    def remote(self) -> bool:
        return is_remote(self.root)

    @property
    def bundles_uri(self) -> str:
        return _join(self.root, "bundles")

    def build_dir(self) -> str:
        """Where to build a new bundle (save_bundle's root): the store itself when local, else a
        local scratch folder whose bundles `add` uploads."""
        if not self.remote:
            os.makedirs(self.bundles_uri, exist_ok=True)
            return self.bundles_uri
        return tempfile.mkdtemp(prefix="adcombo-bundles-")

    def add(self, bundle_dir: str) -> str:
        """Publish a bundle built under build_dir(); it becomes the candidate. Returns its version."""
        version = os.path.basename(bundle_dir.rstrip("/"))
        if self.remote:
            from models.bundle import MANIFEST_FILE
            from pipelines.storage import join, upload

            # The manifest goes last: a reader (exists, local_path) never sees half a bundle.
            names = sorted(os.listdir(bundle_dir), key=lambda n: n == MANIFEST_FILE)
            for name in names:
                upload(os.path.join(bundle_dir, name), join(self.uri(version), name))
            shutil.rmtree(os.path.dirname(bundle_dir), ignore_errors=True)
        self._write(CANDIDATE, version)
        return version

    # --- pointers ----------------------------------------------------------------------------------

    def candidate(self) -> str:
        version = self._read(CANDIDATE)
        if not version:
            raise ModelStoreError(f"no candidate model in {self.root}: materialise the ctr_model asset")
        return version

    def current(self) -> str | None:
        """The production version, or None before the first promotion."""
        return self._read(CURRENT)

    def require_current(self) -> str:
        version = self.current()
        if not version:
            raise ModelStoreError(f"no production model in {self.root} yet: materialise ctr_model and "
                                  "production_model (or run `adcombo run`)")
        return version

    def promote(self, version: str) -> str | None:
        """Make `version` production; returns the previous production version."""
        if not self.exists(version):
            raise ModelStoreError(f"cannot promote {version}: no such bundle under {self.bundles_uri}")
        previous = self.current()
        self._write(CURRENT, version)
        return previous

    def retire(self) -> str | None:
        """Clear both pointers (the bundles stay): after the source changed, a model of the other
        data is no baseline, so the first model trained on the new data is promoted without
        comparison. Returns the production version retired, if any."""
        previous = self.current()
        for name in (CURRENT, CANDIDATE):
            self._remove(name)
        return previous

    # --- bundles -----------------------------------------------------------------------------------

    def uri(self, version: str) -> str:
        return _join(self.bundles_uri, version)

    def exists(self, version: str) -> bool:
        from models.bundle import MANIFEST_FILE

        path = _join(self.uri(version), MANIFEST_FILE)
        if not self.remote:
            return os.path.exists(path)
        from apache_beam.io.filesystems import FileSystems

        return FileSystems.exists(path)

    def local_path(self, version: str) -> str:
        """A local directory with the bundle's files (a verified cache copy for gs:// stores)."""
        if not self.exists(version):
            raise ModelStoreError(f"bundle {version} is not in {self.bundles_uri}: retrain (ctr_model) "
                                  "or restore it")
        return local_bundle(self.uri(version))

    def load(self, version: str, expected_spec: dict | None = None):
        from models.bundle import load_bundle

        return load_bundle(self.local_path(version), expected_spec=expected_spec)

    # --- pointer files: one small object each, replaced whole ---------------------------------------

    def _read(self, name: str) -> str | None:
        path = _join(self.root, name)
        if self.remote:
            from apache_beam.io.filesystems import FileSystems

            if not FileSystems.exists(path):
                return None
            with FileSystems.open(path, compression_type="uncompressed") as f:
                return f.read().decode("utf-8").strip() or None
        try:
            with open(path, encoding="utf-8") as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None

    def _remove(self, name: str) -> None:
        path = _join(self.root, name)
        if self.remote:
            from apache_beam.io.filesystems import FileSystems

            if FileSystems.exists(path):
                FileSystems.delete([path])
            return
        try:
            os.remove(path)
        except FileNotFoundError:
            pass

    def _write(self, name: str, version: str) -> None:
        path = _join(self.root, name)
        if self.remote:
            from apache_beam.io.filesystems import FileSystems

            with FileSystems.create(path, mime_type="text/plain", compression_type="uncompressed") as f:
                f.write((version + "\n").encode("utf-8"))
            return
        os.makedirs(self.root, exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(version + "\n")
        os.replace(tmp, path)
