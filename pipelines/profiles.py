"""Runner profiles: the flags that make a pipeline run locally or on Dataflow.

Beam-free (the settings import the Dataflow defaults from here without loading Beam). Values are
passed in, never read from the environment: the settings object decides, once.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

LOCAL_RUNNER = "FnApiRunner"
PROFILES = ("local", "dataflow")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class DataflowConfig:
    """Where and how Dataflow jobs run. The defaults here are the only Dataflow defaults."""

    project: str = ""
    region: str = "asia-northeast1"
    temp_location: str = ""  # gs://bucket/tmp; staging goes under it
    # Scoring is CPU-bound with a small, flat memory footprint: high-CPU machines, one SDK
    # process per vCPU (the runner v2 default), no hyper-threaded oversubscription.
    machine_type: str = "n2-highcpu-8"
    num_workers: int = 2
    max_workers: int = 20
    sdk_container_image: str = ""  # without it, workers install this project from setup.py
    service_account: str = ""

    def flags(self) -> list[str]:
        flags = ["--runner=DataflowRunner", f"--region={self.region}", f"--machine_type={self.machine_type}",
                 f"--num_workers={self.num_workers}", f"--max_num_workers={self.max_workers}"]
        if self.project:
            flags.append(f"--project={self.project}")
        if self.temp_location:
            flags += [f"--temp_location={self.temp_location}",
                      f"--staging_location={self.temp_location.rstrip('/')}/staging"]
        if self.sdk_container_image:
            flags += [f"--sdk_container_image={self.sdk_container_image}", "--sdk_location=container"]
        else:
            # Workers build and install this project (and its pinned dependencies) from setup.py.
            flags.append(f"--setup_file={os.path.join(REPO_ROOT, 'setup.py')}")
        if self.service_account:
            flags.append(f"--service_account_email={self.service_account}")
        return flags + [
            "--autoscaling_algorithm=THROUGHPUT_BASED",
            "--experiments=use_runner_v2",
            # Ad groups are independent and small before scoring: no need to keep shuffle on workers.
            "--experiments=shuffle_mode=service",
        ]

    def environment(self) -> dict:
        """The Flex Template launch's `environment` (the same settings as the flags)."""
        env = {"num_workers": self.num_workers, "max_workers": self.max_workers, "machine_type": self.machine_type}
        if self.temp_location:
            env["temp_location"] = self.temp_location
        if self.sdk_container_image:
            env["sdk_container_image"] = self.sdk_container_image
        if self.service_account:
            env["service_account_email"] = self.service_account
        return env


DATAFLOW_DEFAULTS = DataflowConfig()


def local_runner_flags(workers: int = 1) -> list[str]:
    """Flags for the local runner; several workers run as separate processes.

    Beam's DirectRunner first tries Prism, which downloads a binary; offline that fails, so the
    FnApiRunner is named explicitly.
    """
    if workers <= 1:
        return [f"--runner={LOCAL_RUNNER}", "--direct_running_mode=in_memory"]
    return [f"--runner={LOCAL_RUNNER}", "--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]


def profile_flags(profile: str = "local", workers: int = 2, dataflow: DataflowConfig | None = None) -> list[str]:
    """Runner flags of a profile: "local" (FnApiRunner, `workers` processes) or "dataflow"."""
    profile = (profile or "local").strip().lower()
    if profile not in PROFILES:
        raise ValueError(f"unknown runner profile {profile!r}: expected one of {list(PROFILES)}")
    if profile == "local":
        return local_runner_flags(workers)
    return (dataflow or DATAFLOW_DEFAULTS).flags()


def with_overrides(config: DataflowConfig, **values) -> DataflowConfig:
    return dataclasses.replace(config, **{k: v for k, v in values.items() if v not in (None, "")})
