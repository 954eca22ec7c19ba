"""A stand-in for the three Dataflow API clients (imported by basename, like a conftest helper)."""

from types import SimpleNamespace


class FakeDataflow:
    """A launched job walks through the given states, one per poll; the last one repeats."""

    def __init__(self, states, errors=(), job_id="2026-11-27_01_02_03-123"):
        self.states, self.errors, self.launched, self.job_id = list(states), list(errors), [], job_id

    def launch_flex_template(self, request):
        self.launched.append(request)
        return SimpleNamespace(job=SimpleNamespace(id=self.job_id))

    def get_job(self, request):
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        if state == "JOB_STATE_DONE":
            self.on_done()
        return SimpleNamespace(current_state=SimpleNamespace(name=state))

    def on_done(self):
        """What the job leaves behind when it succeeds (nothing, by default)."""

    def list_job_messages(self, request):
        assert request["minimum_importance"] == "JOB_MESSAGE_ERROR"
        return SimpleNamespace(job_messages=[SimpleNamespace(message_text=e) for e in self.errors])
