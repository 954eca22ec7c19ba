"""The Dataflow image's build context, checked without a Docker engine."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_instructions():
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_every_local_copy_source_exists():
    for line in dockerfile_instructions():
        if line.startswith("COPY") and "--from=" not in line:
            sources = line.split()[1:-1]
            for src in sources:
                assert (ROOT / src).exists(), f"Dockerfile copies {src}, which is not in the repo"


def test_entrypoint_is_beams_boot_and_launcher_is_present():
    lines = dockerfile_instructions()
    assert lines[-1] == 'ENTRYPOINT ["/opt/apache/beam/boot"]'
    assert any("/opt/google/dataflow/python_template_launcher" in l for l in lines if l.startswith("COPY --from="))
    py_file = next(l for l in lines if l.startswith("ENV FLEX_TEMPLATE_PYTHON_PY_FILE"))
    main = py_file.split("}/", 1)[1].rstrip('"')
    assert (ROOT / main).exists()


def test_requirements_and_beam_sdk_version_match():
    lines = dockerfile_instructions()
    assert "COPY requirements.txt ." in lines
    assert any("pip install --no-cache-dir -r requirements.txt" in l for l in lines)
    pins = dict(
        re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]+\])?==(\S+)", l).groups()
        for l in (ROOT / "requirements.txt").read_text().splitlines()
        if re.match(r"^[A-Za-z0-9_.\-]+(\[[^\]]+\])?==", l)
    )
    sdk = next(l for l in lines if "apache/beam_python" in l)
    python_minor, beam_version = re.search(r"beam_python(\d\.\d+)_sdk:(\S+)", sdk).groups()
    assert beam_version == pins["apache-beam"]
    assert f"python:{python_minor}" in lines[0]


def test_packages_the_pipeline_imports_are_in_the_image():
    copied = {l.split()[1] for l in dockerfile_instructions() if l.startswith("COPY") and "--from=" not in l}
    for package in ("transforms", "models", "pipelines"):
        assert package in copied


def test_flex_template_metadata_matches_the_pipeline_flags():
    from apache_beam.options.pipeline_options import PipelineOptions

    import pipelines.score  # noqa: F401  (registers the scoring options)

    metadata = json.loads((ROOT / "deploy" / "dataflow" / "metadata.json").read_text())
    names = [p["name"] for p in metadata["parameters"]]
    args = [f"--{n}=7" for n in names]
    parsed = PipelineOptions(args).get_all_options(retain_unknown_options=True)
    for name in names:
        assert str(parsed.get(name)) == "7", f"metadata parameter {name} is not a flag of the scoring pipeline"
    for p in metadata["parameters"]:
        for regex in p.get("regexes", []):
            re.compile(regex)
