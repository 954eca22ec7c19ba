import pytest
from _fake_dataflow import FakeDataflow

from pipelines.dataflow_jobs import DataflowJobError, DataflowJobs


def jobs_for(fake):
    return DataflowJobs("proj", "asia-northeast1", templates_client=fake, jobs_client=fake, messages_client=fake)


def test_launch_sends_template_parameters_and_environment():
    fake = FakeDataflow(["JOB_STATE_DONE"])
    job_id = jobs_for(fake).launch("adcombo-score", "gs://b/t.json", {"top_k": 5}, {"max_workers": 10})
    assert job_id == "2026-11-27_01_02_03-123"
    lp = fake.launched[0]["launch_parameter"]
    assert lp["parameters"] == {"top_k": "5"} and lp["environment"] == {"max_workers": 10}
    assert fake.launched[0]["location"] == "asia-northeast1"


def test_running_then_done_polls_until_terminal():
    fake = FakeDataflow(["JOB_STATE_QUEUED", "JOB_STATE_RUNNING", "JOB_STATE_RUNNING", "JOB_STATE_DONE"])
    seen = []
    status = jobs_for(fake).wait("j1", poll_seconds=1, sleep=lambda s: None, on_poll=lambda st: seen.append(st.state))
    assert status.succeeded and status.polls == 4
    assert seen[-1] == "JOB_STATE_DONE"
    assert "asia-northeast1/j1" in status.console_url


@pytest.mark.parametrize("final", ["JOB_STATE_FAILED", "JOB_STATE_CANCELLED"])
def test_failed_or_cancelled_raises_with_the_jobs_error(final):
    fake = FakeDataflow(["JOB_STATE_RUNNING", final], errors=["Workflow failed. Causes: S01: bundle load failed"])
    with pytest.raises(DataflowJobError, match=f"{final}.*bundle load failed") as exc:
        jobs_for(fake).wait("j1", sleep=lambda s: None)
    assert exc.value.status.state == final


def test_timeout_reports_the_running_state():
    fake = FakeDataflow(["JOB_STATE_RUNNING"])
    with pytest.raises(DataflowJobError, match="still JOB_STATE_RUNNING"):
        jobs_for(fake).wait("j1", poll_seconds=10, timeout_seconds=30, sleep=lambda s: None)


def test_needs_project_and_region():
    with pytest.raises(ValueError, match="project and a region"):
        DataflowJobs("", "r")


def test_stopped_means_not_started_yet_and_polling_goes_on():
    fake = FakeDataflow(["JOB_STATE_STOPPED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_DONE"])
    status = jobs_for(fake).wait("j1", sleep=lambda s: None)
    assert status.succeeded and status.polls == 4
