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
    defs = build_definitions(Settings.from_env(production_env))
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
    assert resources["dataflow"].environment()["num_workers"] == 2


def test_missing_production_settings_fail_fast_with_names():
    with pytest.raises(ValueError, match="ADCOMBO_API_TOKEN.*ADCOMBO_GCS_ROOT"):
        Settings.from_env({"ADCOMBO_ENV": "production", "ADCOMBO_API_URL": "https://x", "ADCOMBO_GCP_PROJECT": "p"})
    with pytest.raises(ValueError, match="ADCOMBO_ENV"):
        Settings.from_env({"ADCOMBO_ENV": "staging"})


def test_the_code_location_loads_in_production_mode_without_network(production_env):
    code = (
        "from dagster_project.definitions import defs; "
        "print(sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys())[:3])"
    )
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **production_env},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ab_assignments" in out.stdout
