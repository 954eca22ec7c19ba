"""Hints name commands that work as printed: `adcombo` only if that name runs this program."""

from __future__ import annotations

import os
import shutil
import sys


def command(argv0: str | None = None, python: str | None = None) -> str:
    """How the person can run adcombo again from where they are."""
    argv0 = argv0 or sys.argv[0]
    if os.path.basename(argv0) == "adcombo":  # the console script
        on_path = shutil.which("adcombo")
        if on_path and os.path.realpath(on_path) == os.path.realpath(argv0):
            return "adcombo"
        return _short(argv0)
    # `python -m adcombo.cli`, or adcombo called from Python (tests)
    return f"{_short(python or sys.executable)} -m adcombo.cli"


def _short(path: str) -> str:
    """A path as short as it can be and still work from here."""
    relative = os.path.relpath(path)
    if relative.startswith(".."):
        return os.path.abspath(path)
    return relative if os.sep in relative else os.path.join(".", relative)
