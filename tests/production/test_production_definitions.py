"""One switch: ADCOMBO_ENV=production turns every resource to its production counterpart."""

import os
import subprocess
import sys

import pytest
from dagster import EnvVar

from dagster_project.definitions import build_definitions
from dagster_project.settings import Settings

PLACEHOLDERS = {
    "ADCOMBO_ENV": "production",
    "ADCOMBO_API_URL": "https://ads-api.example.invalid",
    "ADCOMBO_API_TOKEN": "placeholder-token",
    "ADCOMBO_GCP_PROJECT": "example-project",
    "ADCOMBO_GCS_ROOT": "gs://example-bucket/adcombo",
    "ADCOMBO_GCS_TEMP": "gs://example-bucket/tmp",
    "ADCOMBO_PARTITION_START": "2026-01-01",
    "ADCOMBO_SDK_CONTAINER_IMAGE": "asia-northeast1-docker.pkg.dev/example-project/adcombo/adcombo:1",
}


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    for k, v in PLACEHOLDERS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("ADCOMBO_HOME", str(tmp_path))
    return {**PLACEHOLDERS, "ADCOMBO_HOME": str(tmp_path)}


def test_every_resource_switches(production_env):
    defs = build_definitions(Settings.load())
    resources = defs.resources
    assert resources["warehouse"].backend == "bigquery"
    assert resources["warehouse"].bigquery_project == "example-project"
    assert resources["admedia"].base_url == "https://ads-api.example.invalid"
    assert isinstance(resources["admedia"].token, EnvVar)  # resolved at run time, never shown
    flags = resources["beam_runner"].flags()
    assert "--runner=DataflowRunner" in flags
    assert "--project=example-project" in flags
    assert any(f.startswith("--sdk_container_image=") for f in flags)
    assert any(f.startswith("--temp_location=gs://example-bucket/tmp") for f in flags)
    assert resources["beam_runner"].dataflow.environment()["num_workers"] == 2
    assert resources["model_store"].root == "gs://example-bucket/adcombo/models"


def test_missing_production_settings_fail_fast_with_names(monkeypatch, tmp_path):
    monkeypatch.setenv("ADCOMBO_HOME", str(tmp_path))
    for k, v in {"ADCOMBO_ENV": "production", "ADCOMBO_API_URL": "https://x", "ADCOMBO_GCP_PROJECT": "p"}.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValueError, match="ADCOMBO_API_TOKEN.*ADCOMBO_GCS_ROOT"):
        Settings.load()
    monkeypatch.setenv("ADCOMBO_ENV", "staging")
    with pytest.raises(ValueError, match="ADCOMBO_ENV"):
        Settings.load()


def test_the_code_location_loads_in_production_mode_without_network(production_env, tmp_path):
    """As Dagster loads it (`dagster definitions validate`): settings read at load time."""
    from pathlib import Path

    dagster = str(Path(sys.executable).with_name("dagster"))
    env = {**os.environ, **production_env, "DAGSTER_HOME": str(tmp_path)}
    out = subprocess.run([dagster, "definitions", "validate", "-m", "dagster_project.definitions"], env=env,
                         capture_output=True, text=True, timeout=180)
    assert "All code locations passed validation" in out.stdout + out.stderr, (out.stdout + out.stderr)[-3000:]
