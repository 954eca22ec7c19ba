"""Helpers shared by the ingestion tests."""

TOKEN = "ingest-test-token"


def fast_client(url, **kw):
    from admedia.client import AdMediaClient

    # Tiny backoffs: the point is the retry logic, not the waiting.
    opts = dict(page_size=50, max_attempts=8, backoff_initial=0.001, backoff_max=0.01, timeout=5,
                poll_interval=0.001)
    return AdMediaClient(url, TOKEN, **{**opts, **kw})
