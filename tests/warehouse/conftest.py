"""Warehouse fixtures: DuckDB, and BigQuery through a local BigQuery API emulator (bqemulator).

The emulator would download DuckDB's spatial extension at start (GEOGRAPHY support, unused here);
offline that fails, so the fixture skips that one step. It serves the REST API on loopback from an
in-memory DuckDB, in a background thread of the test process.
"""

import asyncio
import threading

import pytest


class _Emulator:
    def __init__(self):
        from bqemulator.config import PersistenceMode, Settings
        from bqemulator.server import EmulatorServer

        self.server = EmulatorServer(Settings(
            persistence_mode=PersistenceMode.EPHEMERAL, rest_host="127.0.0.1", rest_port=0,
            grpc_host="127.0.0.1", grpc_port=0, default_project_id="adcombo-test"))
        self._ready, self._error, self._loop = threading.Event(), None, None

    def _run(self):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # surfaced in start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True, name="bqemulator")
        self._thread.start()
        if not self._ready.wait(120):
            raise RuntimeError("bqemulator did not start")
        if self._error:
            raise self._error
        return self.server.rest_url

    def stop(self):
        if self._loop and not self._loop.is_closed() and self._error is None:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(20)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(20)


@pytest.fixture(scope="session")
def bq_emulator_url():
    pytest.importorskip("bqemulator")
    from bqemulator.storage.engine import DuckDBEngine

    mp = pytest.MonkeyPatch()
    # The only network access at start: INSTALL/LOAD spatial. Skipped: no GEOGRAPHY here.
    mp.setattr(DuckDBEngine, "_load_spatial", lambda self: None)
    emu = _Emulator()
    try:
        yield emu.start()
    finally:
        emu.stop()
        mp.undo()


@pytest.fixture
def bigquery_wh(bq_emulator_url):
    from warehouse.bigquery_warehouse import BigQueryWarehouse

    wh = BigQueryWarehouse(project="adcombo-test", api_endpoint=bq_emulator_url, staging="stream")
    yield wh
    for ds in ("raw", "serving"):
        wh._client.delete_dataset(f"adcombo-test.{ds}", delete_contents=True, not_found_ok=True)
    wh.close()


@pytest.fixture
def duckdb_wh(tmp_path):
    from warehouse import DuckDBWarehouse

    with DuckDBWarehouse(str(tmp_path / "w.duckdb")) as w:
        yield w


@pytest.fixture(params=["duckdb", "bigquery"])
def any_wh(request):
    """Both adapters: the same tests must pass on each."""
    return request.getfixturevalue(f"{request.param}_wh")
