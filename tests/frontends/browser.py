"""Shared browser-test plumbing: Dog served on a loopback port, and a Chromium page that
collects page errors, console errors and CSP violations (``window.__csp``).

Debian's Chromium through Playwright (``playwright install`` cannot download here); missing,
it fails the test when ``DGSYNC_REQUIRE_BROWSER=1`` (CI) and skips it otherwise.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from core.catalog import AssetCatalog
from core.services import Services

from .conftest import CSP_WATCH

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 768}


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """A WSGI app (Dog) on a free loopback port (a real, threaded HTTP server); yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextmanager
def serve_dog(svc: Services) -> Iterator[str]:
    """Dog over ``svc`` (its own catalog) on a free loopback port; yields its base URL."""
    from dog_flask.app import create_app

    app = create_app(services=svc, catalog=AssetCatalog(svc))
    try:
        with serve_wsgi(app) as url:
            yield url
    finally:
        app.extensions["dgsync.jobs"].shutdown()


@contextmanager
def chromium_page(*, clipboard_origin: str | None = None, accept_dialogs: bool = False,
                  init_script: str = "") -> Iterator[Any]:
    """A 1366×768 page; ``page.errors`` collects page errors and console errors."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("DGSYNC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and DGSYNC_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            if clipboard_origin is not None:
                context.grant_permissions(["clipboard-read", "clipboard-write"], origin=clipboard_origin)
            pg = context.new_page()
            pg.add_init_script(CSP_WATCH + init_script)
            pg.errors = []
            pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
            pg.on("console", lambda msg: pg.errors.append(msg.text) if msg.type == "error" else None)
            if accept_dialogs:
                pg.on("dialog", lambda dialog: dialog.accept())
            yield pg
        finally:
            browser.close()
