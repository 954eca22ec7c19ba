"""Move stage inputs and outputs between the orchestrator's disk and a pipeline's storage.

Locally a pipeline reads and writes the data folder directly. On Dataflow, workers cannot see
the orchestrator's disk: inputs are copied to a `gs://` stage root before the job and its
Parquet output is copied back afterwards. Beam's FileSystems does the copying, so any
filesystem Beam knows (gs://, local) works the same way.
"""

from __future__ import annotations

import os
import shutil

from apache_beam.io.filesystems import FileSystems

from models.staging import is_remote

CHUNK = 1 << 20


def join(root: str, *parts: str) -> str:
    return FileSystems.join(root, *parts) if is_remote(root) else os.path.join(root, *parts)


def upload(local_path: str, remote_path: str) -> str:
    """Copy a file, or a directory's files (recursively), to remote_path; returns remote_path."""
    if os.path.isdir(local_path):
        for dirpath, _, files in os.walk(local_path):
            rel = os.path.relpath(dirpath, local_path)
            for name in sorted(files):
                target = join(remote_path, name) if rel == "." else join(remote_path, *rel.split(os.sep), name)
                upload(os.path.join(dirpath, name), target)
        return remote_path
    with open(local_path, "rb") as src, FileSystems.create(remote_path) as dst:
        shutil.copyfileobj(src, dst, CHUNK)
    return remote_path


def download_matching(pattern: str, local_dir: str) -> list[str]:
    """Copy every file matching a glob (e.g. gs://b/scores/part-*) into local_dir."""
    os.makedirs(local_dir, exist_ok=True)
    out = []
    for match in FileSystems.match([pattern])[0].metadata_list:
        target = os.path.join(local_dir, os.path.basename(match.path))
        tmp = target + ".part"
        with FileSystems.open(match.path) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
        os.replace(tmp, target)
        out.append(target)
    return sorted(out)


def delete_matching(pattern: str) -> int:
    """Remove stale outputs of an earlier attempt before a job writes the same prefix."""
    paths = [m.path for m in FileSystems.match([pattern])[0].metadata_list]
    if paths:
        FileSystems.delete(paths)
    return len(paths)
