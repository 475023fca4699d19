"""Open notebook 09 in JupyterLab in headless Chromium, run it, and photograph the live panel.

This is how the README's picture of the panel is made, and a check that the panel renders in a
real JupyterLab (not only in Python tests). It needs Debian's `chromium` (apt-get install chromium)
and the Python package `playwright` (pip install -e ".[screenshots]"); Playwright drives the
system Chromium, so no browser is downloaded. Everything runs on 127.0.0.1.

    .venv/bin/python tools/screenshot_panel.py --output docs/images/live_panel.png

Steps:
1. start JupyterLab on a free local port with a random token, on a copy of the notebooks;
2. open 09_generation.ipynb and run all cells (quick mode, so it takes a minute or two);
3. press a few piano keys and "Continue" on the panel, wait for the sound, roll and score;
4. save a screenshot of the panel and stop JupyterLab.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "09_generation.ipynb"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_jupyterlab(folder: Path, port: int, token: str) -> subprocess.Popen:
    """JupyterLab serving `folder` on 127.0.0.1:port; returns once it answers."""
    environment = dict(os.environ, MELODYLIB_QUICK="1")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={folder}",
            "--ServerApp.disable_check_xsrf=True",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api?token={token}", timeout=2)
            return server
        except OSError:
            time.sleep(1)
    server.terminate()
    raise SystemExit("JupyterLab did not start within 120 s")


def run_notebook_and_photograph(url: str, output: Path, chromium: str) -> None:
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 2000})
        try:
            _drive(page, url, output)
        except Error:
            failed = output.with_name(output.stem + "_failed.png")
            page.screenshot(path=str(failed))
            print(f"failed; the page as it was is in {failed}", flush=True)
            raise
        finally:
            browser.close()


def _drive(page, url: str, output: Path) -> None:
    from playwright.sync_api import Error

    """Run the notebook, play on the panel and photograph it."""
    print("opening the notebook", flush=True)
    page.goto(url)
    page.wait_for_selector(".jp-Notebook", timeout=120_000)
    select_kernel = page.locator(".jp-Dialog button", has_text="Select")
    # JupyterLab may ask which kernel to start: the notebook's own, "Python (melodylib)".
    with contextlib.suppress(Error):
        select_kernel.first.click(timeout=15_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    print("running all cells", flush=True)
    continue_button = page.locator("button.widget-button", has_text="Continue").first
    continue_button.wait_for(timeout=int(os.environ.get("PANEL_TIMEOUT_MS", "900000")))
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=900_000)
    print("playing on the panel", flush=True)
    for key in ("E4", "G4", "A4", "G4"):
        page.locator("button.widget-button", has_text=key).first.click()
    continue_button.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.widget-html')]"
        ".some(element => element.innerText.includes('added'))",
        timeout=120_000,
    )
    time.sleep(2)
    dismiss = page.locator(".jp-toast-container button", has_text="No")
    if dismiss.count():
        dismiss.first.click()
    panel = continue_button.locator("xpath=ancestor::div[contains(@class,'jp-OutputArea-output')]")
    panel.first.scroll_into_view_if_needed()
    output.parent.mkdir(parents=True, exist_ok=True)
    panel.first.screenshot(path=str(output))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(ROOT / "docs" / "images" / "live_panel.png"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--notebook", default=str(ROOT / "notebooks" / NOTEBOOK))
    arguments = parser.parse_args()
    if not Path(arguments.chromium).exists():
        raise SystemExit("Chromium is needed: apt-get install chromium")
    port, token = free_port(), secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="melodylib_panel_") as folder:
        shutil.copy(arguments.notebook, Path(folder) / NOTEBOOK)
        server = start_jupyterlab(Path(folder), port, token)
        try:
            url = f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}"
            run_notebook_and_photograph(url, Path(arguments.output), arguments.chromium)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"wrote {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
