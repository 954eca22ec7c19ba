import pytest

from admedia.world import World, WorldConfig


@pytest.fixture(scope="session")
def tiny_world() -> World:
    return World.generate(WorldConfig.preset("tiny", seed=7))
