"""The simulator worlds the model is chosen on and the ones it is reported on (never the same).

The simulator is one world, not the world (DESIGN.md). Its knobs (admedia.world.WorldConfig:
slot visibility, redundancy and ordering strength, hidden quality, daily noise, history length,
served ads per ad group, traffic) make variants of what real markets change. Model defaults
(penalty grid, asset prior, slot scales method, residual stumps) were chosen by looking at the
CHOOSE worlds with seeds CHOOSE_SEEDS only; docs/model.md reports the REPORT worlds with
REPORT_SEEDS, which chose nothing. Every variant is the `default` preset (1,000 ad groups) with
its overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHOOSE_SEEDS = (101, 102)
REPORT_SEEDS = (7, 3, 11)


@dataclass(frozen=True)
class Variant:
    name: str
    role: str  # "choose" or "report"
    overrides: dict = field(default_factory=dict)
    about: str = ""

    def config(self, seed: int, **more):
        from admedia.world import WorldConfig

        return WorldConfig.preset("default", seed=seed, **{**self.overrides, **more})


_V = [
    # ---- chosen on ----------------------------------------------------------------------------
    Variant("base30", "choose", dict(days=30), "the tuned rules, 30 days"),
    Variant("steep", "choose", dict(days=30, slot_visibility=(1.0, 0.85, 0.5, 0.9, 0.6)),
            "later slots seen much less"),
    Variant("redund", "choose", dict(days=30, redundancy=1.6, ordering=1.5),
            "strong repetition penalty and slot-dependent appeals"),
    Variant("sparse", "choose", dict(days=30, served_ads_per_group=5, mean_daily_impressions=250.0,
                                     ctr_noise_sd=0.2), "5 served ads, less traffic, daily noise"),
    Variant("quality", "choose", dict(days=14, quality_sd=0.25), "hidden asset quality dominates, 14 days"),
    Variant("week", "choose", dict(days=7), "one week of history"),
    # ---- reported -------------------------------------------------------------------------------
    Variant("default", "report", dict(), "the default preset: 60 days"),
    Variant("visibility", "report", dict(days=30, slot_visibility=(1.0, 0.7, 0.35, 0.8, 0.45)),
            "headline 3 and description 2 rarely seen"),
    Variant("flat_order", "report", dict(days=30, ordering=0.4, redundancy=0.7),
            "appeals worth nearly the same in every slot, weaker repetition penalty"),
    Variant("strong_order", "report", dict(days=30, ordering=2.0, redundancy=1.3),
            "appeals strongly slot-dependent, stronger repetition penalty"),
    Variant("dense", "report", dict(days=30, served_ads_per_group=12), "12 served ads per ad group"),
    Variant("noisy", "report", dict(days=30, ctr_noise_sd=0.3, quality_sd=0.2, mean_daily_impressions=250.0),
            "daily noise, more hidden quality, less traffic"),
    Variant("mixed", "report", dict(days=30, slot_visibility=(1.0, 0.8, 0.5, 0.85, 0.5), redundancy=1.4,
                                    ordering=1.5, served_ads_per_group=6, ctr_noise_sd=0.15),
            "several changes at once"),
    Variant("days30", "report", dict(days=30), "the tuned rules, 30 days (history length)"),
    Variant("days14", "report", dict(days=14), "two weeks of history"),
    Variant("days7", "report", dict(days=7), "one week of history"),
]
VARIANTS: dict[str, Variant] = {v.name: v for v in _V}
# The held-out market variants of the 85% target (30 days of history each).
REPORT_MARKET_VARIANTS = ("visibility", "flat_order", "strong_order", "dense", "noisy", "mixed")
REPORT_HISTORY_VARIANTS = ("days30", "days14", "days7")


def variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise ValueError(f"unknown world variant {name!r}; choose from {', '.join(VARIANTS)}")
    return VARIANTS[name]


def names(role: str | None = None) -> list[str]:
    return [v.name for v in _V if role is None or v.role == role]
