"""Settings read from the environment once, at definition load time.

One variable, `ADCOMBO_HOME`, decides where every local artifact lives; the rest pick the
simulator world, the runner and an optional external API. Secrets are never read here: the API
token goes through Dagster's `EnvVar` so it is resolved at run time and never shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    home: str
    world: str
    seed: int
    api_url: str
    beam_workers: int

    @classmethod
    def from_env(cls, env=os.environ) -> "Settings":
        def integer(name: str, default: int) -> int:
            raw = env.get(name, "")
            try:
                return int(raw) if raw else default
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not a whole number") from None

        home = env.get("ADCOMBO_HOME") or str(CHECKOUT / ".adcombo")
        return cls(
            home=os.path.abspath(home),
            world=env.get("ADCOMBO_WORLD", "demo"),
            seed=integer("ADCOMBO_SEED", 7),
            api_url=env.get("ADCOMBO_API_URL", ""),
            beam_workers=integer("ADCOMBO_BEAM_WORKERS", min(2, os.cpu_count() or 1)),
        )
