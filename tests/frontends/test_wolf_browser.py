"""Wolf's dashboard in Debian's Chromium, against the Datasphere emulator and moto_server
running as separate processes (``tests/cli/processes.py``): the guided flow plan → sync →
validate end to end, the validation report, a crawler over every page's links (< 400), no
console error or CSP violation, and full-page screenshots of every page at 1366×768 in
tests/artifacts/wolf/ (git-ignored)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from core.services import Services
from core.settings import load_settings
from wolf_fastapi.app import create_app

from .conftest import CSP_WATCH, _clear_dgsync_env

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from processes import separate_systems

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "wolf"

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def systems() -> Iterator[dict[str, Any]]:
    with separate_systems() as found:
        yield found


@pytest.fixture(scope="module")
def wolf(systems: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Services]]:
    """Wolf (uvicorn on a loopback port, dog profile: no sign-in on loopback) pointed at the
    separate emulator and moto_server through DGSYNC_* variables."""
    root = tmp_path_factory.mktemp("wolf-browser")
    with pytest.MonkeyPatch.context() as mp:
        _clear_dgsync_env(mp)
        for key, value in {
            "DGSYNC_STATE_DIR": str(root / "state"),
            "DGSYNC_DATABASE_URL": f"sqlite:///{root / 'state.db'}",
            "DGSYNC_DATASPHERE__BASE_URL": systems["emulator"],
            "DGSYNC_DATASPHERE__TOKEN_URL": systems["emulator"] + "/oauth/token",
            "DGSYNC_DATASPHERE__CLIENT_ID": "dgsync-demo",
            "DGSYNC_DATASPHERE__CLIENT_SECRET": "dgsync-demo-secret",
            "DGSYNC_GLUE__ENDPOINT_URL": systems["glue"],
            "DGSYNC_GLUE__CALLS_PER_SECOND": "500",
            "DGSYNC_GLUE__BURST": "500",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            mp.setenv(key, value)
        settings = load_settings(env="dog")
        app: FastAPI = create_app(settings, bind_host="127.0.0.1")
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}", app.state.services
        finally:
            server.should_exit = True
            thread.join(timeout=30)


@pytest.fixture(scope="module")
def page(wolf: tuple[str, Services]) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("DGSYNC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and DGSYNC_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        try:
            pg = browser.new_page(viewport={"width": 1366, "height": 768})
            pg.add_init_script(CSP_WATCH)
            pg.errors = []  # type: ignore[attr-defined]
            pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
            pg.on("console", lambda msg: pg.errors.append(msg.text) if msg.type == "error" else None)
            yield pg
        finally:
            browser.close()


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert page.evaluate("window.__csp") == [], name
    # 1366 px wide stays 1366 px wide: wide tables scroll inside their box
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366, name


def _clean(page: Any, allowed: tuple[str, ...] = ()) -> None:
    errors = [e for e in page.errors if not any(a in e for a in allowed)]
    page.errors.clear()
    assert errors == []


#: Every page of the nav, plus a few deeper ones (name → path).
PAGES = {
    "overview": "/", "assets": "/assets", "assets-search": "/assets?q=order", "asset": "/assets/SALES/V_ORDERS",
    "runs": "/runs", "performance": "/performance", "docs": "/docs", "redoc": "/redoc",
    "not-found": "/no/such/page",
}


def test_every_page_renders_without_errors_and_every_link_answers(page: Any, wolf: tuple[str, Services]) -> None:
    url, _ = wolf
    for name, path in PAGES.items():
        page.goto(url + path)
        page.wait_for_load_state("networkidle")
        if name == "docs":
            page.wait_for_selector(".swagger-ui .info", timeout=20_000)
        if name == "redoc":
            page.wait_for_selector("#redoc h1", timeout=20_000)
        _shot(page, name)
    _clean(page, ("status of 404",))
    seen: set[str] = set()
    for path in PAGES.values():
        page.goto(url + path)
        page.wait_for_load_state("networkidle")
        links = page.eval_on_selector_all("a[href^='/']", "els => els.map(e => e.getAttribute('href'))")
        for href in links:
            if href in seen:
                continue
            seen.add(href)
            assert page.request.get(url + href).status < 400, href
    assert len(seen) > 15
