"""The Dagster UI in a real browser: Debian's Chromium, headless, driven by Playwright (no browser
download). On a data folder that `adcombo demo` filled, with the product's instance (run queue:
the daemon launches what the UI asks for), a person opens the asset graph, selects
`drift_report`, clicks "Materialize selected", waits for the run to succeed and reads the
report's status from the asset's metadata."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _dagster_processes import webserver_and_daemon
from dagster import AssetKey

from adcombo.instance import ensure_instance, open_instance

CHROMIUM = "/usr/bin/chromium"
# As root in a container: no sandbox; no GPU; and no calls home, which this network refuses.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ADCOMBO = str(Path(sys.executable).with_name("adcombo"))

if not os.environ.get("CI"):
    # Elsewhere a missing browser is a skip that says what to install; CI never skips: .ci/run
    # installs Chromium, and a missing browser or Playwright there fails the run.
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed: `apt-get install chromium fonts-noto-cjk` (.ci/run does)",
                    allow_module_level=True)
    pytest.importorskip("playwright.sync_api", reason="Playwright is in requirements-dev.txt: `make install`")

from playwright.sync_api import sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("ui-home")
    env = {**os.environ, "ADCOMBO_HOME": str(home), "ADCOMBO_WORLD": "tiny", "DAGSTER_HOME": ensure_instance(home)}
    out = subprocess.run([ADCOMBO, "demo", "--world", "tiny"], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    return home, env


@pytest.fixture(scope="module")
def ui(demo_home, tmp_path_factory):
    """The webserver and daemon on the demo's data folder, and a headless browser."""
    home, env = demo_home
    with webserver_and_daemon(["-m", "dagster_project.definitions"], env, tmp_path_factory.mktemp("ui-logs")) as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield url, browser
        finally:
            browser.close()


def test_materialise_drift_report_by_clicking_in_the_asset_graph(demo_home, ui, tmp_path):
    home, env = demo_home
    url, browser = ui
    with open_instance(home) as instance:
        before = instance.get_latest_materialization_event(AssetKey("drift_report"))
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.set_default_timeout(60_000)
        page.goto(f"{url}/asset-groups", wait_until="networkidle")
        # The global asset graph: open the monitoring group, select drift_report, materialise it.
        page.get_by_text("monitoring", exact=True).first.dblclick()
        page.get_by_text("drift_report", exact=True).first.click()
        page.get_by_role("button", name="Materialize selected").click()
        view = page.get_by_role("link", name="View").and_(page.locator("a[href^='/runs/']"))
        run_id = view.first.get_attribute("href").split("/runs/")[1].split("?")[0]
        page.screenshot(path=str(tmp_path / "launched.png"))

        # The run page says Success once the daemon has dequeued and run it.
        page.goto(f"{url}/runs/{run_id}", wait_until="networkidle")
        page.get_by_text("Success", exact=True).first.wait_for(timeout=240_000)

        # Back on the graph, the selected asset's panel shows this run's metadata.
        page.goto(f"{url}/asset-groups/drift_report", wait_until="networkidle")
        page.get_by_role("link", name=run_id[:8]).first.wait_for()
        status_row = page.locator("tr").filter(has=page.locator("td", has_text=re.compile(r"^status$")))
        shown_status = status_row.first.locator("td").nth(1).inner_text().strip()
        page.screenshot(path=str(tmp_path / "materialised.png"))
    finally:
        page.close()

    with open_instance(home) as instance:
        event = instance.get_latest_materialization_event(AssetKey("drift_report"))
        run = instance.get_run_by_id(run_id)
    assert before is not None and event.run_id == run_id != before.run_id
    assert run.status.value == "SUCCESS"
    assert shown_status == event.asset_materialization.metadata["status"].value
    assert shown_status in ("ok", "warn", "error")


def test_scoring_asset_shows_an_explanation_and_the_weakest_assets(demo_home, ui, tmp_path):
    """What a copywriter opens: the scoring asset's page, with the explanation of a best
    combination (a table of named terms and its waterfall) and the weakest assets."""
    home, _ = demo_home
    url, browser = ui
    with open_instance(home) as instance:
        metadata = instance.get_latest_materialization_event(AssetKey("top_combinations")).asset_materialization.metadata
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    try:
        page.set_default_timeout(60_000)
        page.goto(f"{url}/assets/top_combinations", wait_until="networkidle")
        for label in ("explanation", "explanation_waterfall", "weakest_assets", "asset_labels"):
            page.get_by_text(label, exact=True).first.wait_for()
        # The explanation's table is rendered inline: its terms and one of the explained asset texts.
        explained_text = metadata["explanation"].value.records[1].data["texts"]
        page.get_by_text("constant", exact=True).first.wait_for()
        page.get_by_text(explained_text).first.wait_for()
        # The waterfall is a plot behind the row's [Show Markdown] link.
        row = page.locator("tr").filter(has=page.locator("td", has_text=re.compile(r"^explanation_waterfall$")))
        row.first.get_by_text("Show Markdown").click()
        page.locator("img[src^='data:image/png']").first.wait_for()
        page.screenshot(path=str(tmp_path / "waterfall.png"))
    finally:
        page.close()
