"""Settings are read once, in one module, and documented in one table the README reuses."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dagster_project.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
# The only modules allowed to read the environment: the settings, and the standalone simulator's
# own entry point (it runs without adcombo's settings).
READERS = {"dagster_project/settings.py", "admedia/server.py"}


def _reads_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and \
                isinstance(node.value, ast.Name) and node.value.id == "os":
            lines.append(node.lineno)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "EnvVar":
            pass  # Dagster resolves EnvVar at run time, by design (secrets)
    return lines


def test_only_the_settings_module_reads_the_environment():
    offenders = []
    for folder in ("adcombo", "admedia", "dagster_project", "experiments", "ingest", "models", "monitoring",
                   "pipelines", "transforms", "warehouse"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in READERS:
                continue
            lines = _reads_environment(ast.parse(path.read_text(encoding="utf-8")))
            # passing an explicit environment to a child process is writing, not reading
            lines = [n for n in lines if "{**os.environ" not in path.read_text(encoding="utf-8").splitlines()[n - 1]]
            offenders += [f"{rel}:{n}" for n in lines]
    assert offenders == []


def test_importing_the_code_location_reads_no_settings(tmp_path):
    """A broken setting must not break `import dagster_project.definitions` (only loading defs)."""
    code = "import dagster_project.definitions as d; print(type(d.defs).__name__)"
    env = {**os.environ, "ADCOMBO_SEED": "not-a-number", "ADCOMBO_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_readme_settings_table_is_the_settings_own():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- settings:start -->\n(.*?)\n<!-- settings:end -->", readme, re.S)
    assert block, "README.md lacks the settings block (python -m dagster_project.settings prints it)"
    assert block.group(1).strip() == Settings.markdown_table().strip()


def test_production_flips_defaults_at_once_and_names_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("ADCOMBO_HOME", str(tmp_path))
    monkeypatch.setenv("ADCOMBO_ENV", "production")
    with pytest.raises(SettingsError, match="ADCOMBO_API_URL.*ADCOMBO_GCS_ROOT.*ADCOMBO_PARTITION_START"):
        Settings.load()
    for k, v in {"ADCOMBO_API_URL": "https://x", "ADCOMBO_API_TOKEN": "t", "ADCOMBO_GCP_PROJECT": "p",
                 "ADCOMBO_GCS_ROOT": "gs://b/a", "ADCOMBO_GCS_TEMP": "gs://b/t",
                 "ADCOMBO_PARTITION_START": "2026-01-01"}.items():
        monkeypatch.setenv(k, v)
    s = Settings.load()
    assert (s.warehouse, s.runner_profile, s.bq_project) == ("bigquery", "dataflow", "p")
    assert s.model_store_root == "gs://b/a/models" and s.open_ended
    assert "t" not in repr(s).replace("'t'", "") or "SecretStr" in repr(s)  # secrets are not shown
    assert "**********" in repr(s.api_token)
    monkeypatch.setenv("ADCOMBO_WAREHOUSE", "duckdb")
    with pytest.raises(SettingsError, match="ADCOMBO_WAREHOUSE=bigquery"):
        Settings.load()


def test_cli_options_win_and_child_processes_get_an_explicit_environment(monkeypatch, tmp_path):
    from adcombo.runs import child_env

    monkeypatch.setenv("ADCOMBO_WORLD", "tiny")
    s = Settings.load(home=tmp_path, world="small", seed=3, import_options={"encoding": "cp932"})
    assert (s.world, s.seed, s.home) == ("small", 3, tmp_path)
    env = child_env(s)
    assert env["ADCOMBO_WORLD"] == "small" and env["ADCOMBO_SEED"] == "3"
    assert env["DAGSTER_HOME"] == str(tmp_path / "dagster")
    for k, v in env.items():  # the child reads the same settings from its environment
        if k.startswith("ADCOMBO_"):
            monkeypatch.setenv(k, v)
    assert Settings.load() == s
    from dagster_project.settings import world_date_range

    assert (s.partition_start, s.partition_end) == world_date_range("small")  # the world's own days
