import pytest

from admedia.world import World, WorldConfig



@pytest.fixture(scope="session")
def small_world() -> World:
    # The "whole world" of the chaos test, smaller: every ad group of a 40-group world, 14 days.
    return World.generate(WorldConfig.preset("tiny", n_ad_groups=40, n_advertisers=6, days=14))


@pytest.fixture
def duck(tmp_path):
    from warehouse import DuckDBWarehouse

    with DuckDBWarehouse(str(tmp_path / "w.duckdb")) as wh:
        yield wh


