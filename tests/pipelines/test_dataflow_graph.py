"""The production path, offline: DataflowRunner --dry_run builds the whole scoring job graph
without credentials or network, and the job carries the runner profile's options."""

import pytest

from pipelines import score
from pipelines.io import bigquery_schema
from pipelines.profiles import DataflowConfig, profile_flags

DATAFLOW = DataflowConfig(
    project="adcombo-test", temp_location="gs://adcombo-test/tmp",
    sdk_container_image="asia-northeast1-docker.pkg.dev/adcombo-test/beam/adcombo:1", machine_type="c3-highcpu-8",
)


def _transform_graph(proto_pipeline):
    """{unique_name: (inputs pcoll ids, outputs pcoll ids)} of the top-level transforms."""
    transforms = proto_pipeline.components.transforms
    return {t.unique_name: (set(t.inputs.values()), set(t.outputs.values()))
            for t in transforms.values() if "/" not in t.unique_name}


def test_dry_run_builds_the_scoring_graph(tiny_bundle):
    flags = profile_flags("dataflow", dataflow=DATAFLOW) + [
        "--dry_run=True", "--no_auth", "--job_name=adcombo-score-dry-run",
        "--pools=gs://adcombo-test/snapshots/raw__asset_pools.parquet",
        "--ads=gs://adcombo-test/snapshots/raw__ads.parquet",
        f"--bundle={tiny_bundle}", "--output=gs://adcombo-test/scores/top_k/part", "--top_k=7",
    ]
    pipeline, manifest = score.build_pipeline(flags)
    result = pipeline.run()
    job = result.job
    assert job.proto.name == "adcombo-score-dry-run" and job.proto.type_.name == "JOB_TYPE_BATCH"

    graph = _transform_graph(job.proto_pipeline)
    for name in ("ReadPools", "ReadAds", "GroupPools", "Assemble", "SpreadAdGroups", "Predict", "TopK", "Write"):
        assert name in graph, f"{name} missing from {sorted(graph)}"
    # The fusion break sits between the grouping and the fan-out: Assemble -> Reshuffle -> Predict
    # (score_pool: enumerate, featurise, score, top K).
    assert graph["Assemble"][1] == graph["SpreadAdGroups"][0]
    assert graph["SpreadAdGroups"][1] == graph["Predict"][0]
    names = {t.unique_name for t in job.proto_pipeline.components.transforms.values()}
    assert any(n.startswith("SpreadAdGroups/") and n.endswith("GroupByKey") for n in names)
    assert any(n.startswith("Predict/") for n in names)  # RunInference's own sub-transforms
    assert "AllScores" not in " ".join(names) and not any("WriteAllScores" in n for n in names)

    options = job.options.get_all_options(drop_default=True)
    assert options["runner"] == "DataflowRunner"
    assert options["project"] == "adcombo-test" and options["region"] == "asia-northeast1"
    assert options["machine_type"] == "c3-highcpu-8"
    assert options["sdk_container_image"] == DATAFLOW.sdk_container_image
    assert options["temp_location"].startswith("gs://adcombo-test/tmp")
    assert options["max_num_workers"] == 20 and options["autoscaling_algorithm"] == "THROUGHPUT_BASED"
    assert "use_runner_v2" in options["experiments"]
    assert options["top_k"] == 7 and options["bundle"] == tiny_bundle
    # The workers run the project's own container image.
    envs = list(job.proto_pipeline.components.environments.values())
    assert any(e.urn == "beam:env:docker:v1" and DATAFLOW.sdk_container_image.encode() in e.payload
               for e in envs)
    assert manifest["version"]


def test_all_scores_option_adds_the_sharded_writer(tiny_bundle):
    flags = profile_flags("dataflow", dataflow=DATAFLOW) + [
        "--dry_run=True", "--no_auth", "--pools=gs://b/p.parquet", "--ads=gs://b/a.parquet",
        f"--bundle={tiny_bundle}", "--output=gs://b/top/part", "--all_scores_output=gs://b/all/part",
    ]
    pipeline, _ = score.build_pipeline(flags)
    job = pipeline.run().job
    graph = _transform_graph(job.proto_pipeline)
    assert "WriteAllScores" in graph


def test_profiles_are_one_setting():
    assert profile_flags("local", workers=2) == [
        "--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    assert profile_flags("dataflow")[0] == "--runner=DataflowRunner"
    assert profile_flags()[0] == "--runner=FnApiRunner"
    # Without a custom image, workers install this project from setup.py at the repo root.
    flags = profile_flags("dataflow", dataflow=DataflowConfig(project="p"))
    setup = [f for f in flags if f.startswith("--setup_file=")]
    assert setup and setup[0].endswith("/setup.py")
    import os

    assert os.path.exists(setup[0].split("=", 1)[1])
    with pytest.raises(ValueError, match="unknown runner profile 'spark'"):
        profile_flags("spark")


def test_runner_profile_flag_expands_and_explicit_flags_win():
    from apache_beam.options.pipeline_options import StandardOptions, WorkerOptions

    from pipelines.options import pipeline_options

    opts = pipeline_options(["--runner_profile=dataflow", "--machine_type=n2-standard-4", "--project=x"])
    assert opts.view_as(StandardOptions).runner == "DataflowRunner"
    assert opts.view_as(WorkerOptions).machine_type == "n2-standard-4"


def test_bigquery_read_and_write_options(tiny_bundle):
    flags = profile_flags("dataflow", dataflow=DATAFLOW) + [
        "--dry_run=True", "--no_auth",
        "--pools=bq://adcombo-test.raw.asset_pools", "--ads=bq://adcombo-test.raw.ads",
        f"--bundle={tiny_bundle}", "--output_table=adcombo-test:serving.top_combinations",
    ]
    pipeline, _ = score.build_pipeline(flags)
    job = pipeline.run().job
    graph = _transform_graph(job.proto_pipeline)
    assert "WriteBigQuery" in graph and "Write" not in graph
    names = " ".join(t.unique_name for t in job.proto_pipeline.components.transforms.values())
    assert "ReadPools" in names and "ReadAds" in names
    assert "FileLoads" in names or "TriggerLoadJobs" in names  # file loads, not streaming inserts


def test_bigquery_schema_covers_every_top_k_column():
    schema = bigquery_schema(score.TOP_K_SCHEMA)
    assert schema.startswith("ad_group_id:STRING,rank:INTEGER")
    assert len(schema.split(",")) == len(score.TOP_K_SCHEMA)
