"""Launch the scoring Flex Template on Dataflow and follow the job to a terminal state.

A thin layer over `google.cloud.dataflow_v1beta3` (installed with apache-beam[gcp]). The clients
are injected, so the state handling is tested without credentials or network.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

log = logging.getLogger(__name__)

SUCCESS_STATES = {"JOB_STATE_DONE"}
# JOB_STATE_STOPPED means "not started yet" in the Dataflow API: keep polling through it.
FAILED_STATES = {"JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_DRAINED", "JOB_STATE_UPDATED"}
TERMINAL_STATES = SUCCESS_STATES | FAILED_STATES


class DataflowJobError(RuntimeError):
    def __init__(self, status: "JobStatus"):
        detail = "; ".join(status.errors[-3:]) or "no error message was reported"
        super().__init__(f"Dataflow job {status.job_id} ended {status.state}: {detail} ({status.console_url})")
        self.status = status


def console_url(project: str, region: str, job_id: str) -> str:
    return f"https://console.cloud.google.com/dataflow/jobs/{region}/{job_id}?project={project}"


@dataclass
class JobStatus:
    job_id: str
    state: str
    console_url: str
    polls: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.state in SUCCESS_STATES


def _state_name(state) -> str:
    return getattr(state, "name", str(state))


class DataflowJobs:
    def __init__(self, project: str, region: str, templates_client=None, jobs_client=None, messages_client=None):
        if not project or not region:
            raise ValueError("a Dataflow launch needs a project and a region (ADCOMBO_GCP_PROJECT, ADCOMBO_GCP_REGION)")
        self.project, self.region = project, region
        self._templates, self._jobs, self._messages = templates_client, jobs_client, messages_client

    def _clients(self):
        if self._templates is None:
            from google.cloud import dataflow_v1beta3 as dataflow

            self._templates = dataflow.FlexTemplatesServiceClient()
            self._jobs = dataflow.JobsV1Beta3Client()
            self._messages = dataflow.MessagesV1Beta3Client()
        return self._templates, self._jobs, self._messages

    def launch(self, job_name: str, template_path: str, parameters: Mapping[str, str], environment: Mapping) -> str:
        templates, _, _ = self._clients()
        request = {
            "project_id": self.project,
            "location": self.region,
            "launch_parameter": {
                "job_name": job_name,
                "container_spec_gcs_path": template_path,
                "parameters": {k: str(v) for k, v in parameters.items()},
                "environment": dict(environment),
            },
        }
        response = templates.launch_flex_template(request=request)
        job_id = response.job.id
        log.info("launched Dataflow job %s (%s)", job_id, console_url(self.project, self.region, job_id))
        return job_id

    def state(self, job_id: str) -> str:
        _, jobs, _ = self._clients()
        job = jobs.get_job(request={"project_id": self.project, "location": self.region, "job_id": job_id})
        return _state_name(job.current_state)

    def errors(self, job_id: str) -> list[str]:
        _, _, messages = self._clients()
        pages = messages.list_job_messages(
            request={
                "project_id": self.project, "location": self.region, "job_id": job_id,
                "minimum_importance": "JOB_MESSAGE_ERROR",
            }
        )
        return [m.message_text for m in getattr(pages, "job_messages", pages)]

    def wait(
        self,
        job_id: str,
        poll_seconds: float = 30.0,
        timeout_seconds: float = 6 * 3600,
        sleep: Callable[[float], None] = time.sleep,
        on_poll: Callable[[JobStatus], None] | None = None,
    ) -> JobStatus:
        """Poll until the job is terminal; raise DataflowJobError unless it is DONE."""
        status = JobStatus(job_id, "JOB_STATE_UNKNOWN", console_url(self.project, self.region, job_id))
        waited = 0.0
        while True:
            status.state = self.state(job_id)
            status.polls += 1
            if on_poll:
                on_poll(status)
            if status.state in TERMINAL_STATES:
                break
            if waited >= timeout_seconds:
                status.errors.append(f"still {status.state} after {timeout_seconds:.0f}s; the job keeps running")
                raise DataflowJobError(status)
            sleep(poll_seconds)
            waited += poll_seconds
        if not status.succeeded:
            status.errors = self.errors(job_id)
            raise DataflowJobError(status)
        return status


def run_on_dataflow(run_pipeline: Callable, flags: list[str], params: Mapping[str, str], *, jobs: "DataflowJobs",
                    template: str = "", environment: Mapping | None = None, job_name: str = "adcombo",
                    poll_seconds: float = 30.0, on_poll: Callable[[JobStatus], None] | None = None
                    ) -> tuple[JobStatus, dict]:
    """Run a pipeline on Dataflow and follow it to a terminal state: from the Flex Template
    `template` when given (the launcher image builds the graph), else submitted from this process
    with `run_pipeline(flags + params)`.

    Returns (final status, Beam metrics — only known for direct submissions). Raises
    DataflowJobError, carrying the job id, state and console link, unless the job is DONE.
    """
    if template:
        job_id = jobs.launch(job_name, template, params, environment or {})
        return jobs.wait(job_id, poll_seconds=poll_seconds, on_poll=on_poll), {}
    from pipelines.options import metrics_summary

    result = run_pipeline(list(flags) + [f"--{k}={v}" for k, v in params.items()], wait=False)
    job_id = result.job_id()
    url = console_url(jobs.project, jobs.region, job_id)
    log.info("submitted Dataflow job %s (%s)", job_id, url)
    try:
        state = _state_name(result.wait_until_finish())
    except Exception as exc:  # Beam raises DataflowRuntimeException on FAILED / CANCELLED
        status = JobStatus(job_id, _state_name(result.state), url, polls=1, errors=[str(exc)])
        raise DataflowJobError(status) from None
    status = JobStatus(job_id, state if state.startswith("JOB_STATE") else f"JOB_STATE_{state}", url, polls=1)
    if not status.succeeded:
        raise DataflowJobError(status)
    return status, metrics_summary(result)
