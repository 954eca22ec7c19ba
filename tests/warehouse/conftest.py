"""Warehouse fixtures: DuckDB, and BigQuery through the local BigQuery API emulator (bqemulator,
started by tests/conftest.py)."""

import pytest


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
