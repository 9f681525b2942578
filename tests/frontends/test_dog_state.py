"""One source of truth: Dog and the CLI share the embedded Glue snapshot, and stopping Dog
never loses or forks it (issue 11, "Safety")."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.glue.client import GlueClient
from core.glue.session import build_glue_client
from core.settings import GlueSettings
from doubles.glue_embedded import EmbeddedGlue, start_embedded_glue

# A region no other test uses: starting an embedded Glue resets moto's backend of its region.
REGION = "sa-east-1"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    return tmp_path / "state" / "dog-glue.json"


def _client(emb: EmbeddedGlue) -> GlueClient:
    return build_glue_client(GlueSettings(endpoint_url=emb.endpoint_url, region=emb.region))


def _boto(emb: EmbeddedGlue) -> Any:
    return _client(emb).boto_client


def _add(emb: EmbeddedGlue, db: str, *tables: str) -> None:
    boto = _boto(emb)
    try:
        names = [d["Name"] for d in boto.get_databases()["DatabaseList"]]
        if db not in names:
            boto.create_database(DatabaseInput={"Name": db})
        for t in tables:
            boto.create_table(DatabaseName=db, TableInput={"Name": t, "TableType": "EXTERNAL_TABLE"})
    finally:
        boto.close()


def _tables(path: Path) -> set[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {f"{d['name']}.{t['name']}" for d in data["databases"] for t in d["tables"]}


def test_a_stopped_process_never_shrinks_the_snapshot_to_an_empty_catalog(snapshot: Path) -> None:
    with start_embedded_glue(snapshot, REGION) as first:
        _add(first, "sales", "orders", "customers")
    before = snapshot.read_bytes()
    emb = start_embedded_glue(snapshot, REGION)
    # Something empties the in-process catalog (the reported 382 KB -> 171 bytes).
    from moto.glue.models import glue_backends

    glue_backends[emb.account_id][REGION].reset()
    assert emb.save() is False
    emb.stop()
    assert snapshot.read_bytes() == before


def test_an_unchanged_process_does_not_overwrite_what_another_process_wrote(snapshot: Path) -> None:
    with start_embedded_glue(snapshot, REGION) as first:
        _add(first, "sales", "orders")
    dog = start_embedded_glue(snapshot, REGION)  # a long-running Dog
    try:
        # Meanwhile "the CLI" writes the file (another process: edited on disk here).
        data = json.loads(snapshot.read_text(encoding="utf-8"))
        extra = json.loads(json.dumps(data["databases"][0]))
        extra["name"] = "finance"
        for t in extra["tables"]:
            t["versions"] = {k: {**v, "DatabaseName": "finance"} for k, v in t["versions"].items()}
        data["databases"].append(extra)
        snapshot.write_text(json.dumps(data), encoding="utf-8")
        written = snapshot.read_bytes()
    finally:
        dog.stop()
    assert snapshot.read_bytes() == written  # Dog had no changes of its own: the file stays


def test_refresh_loads_what_another_process_wrote_and_later_saves_keep_it(snapshot: Path) -> None:
    dog = start_embedded_glue(snapshot, REGION)  # started before any sync: empty
    try:
        boto = _boto(dog)
        assert boto.get_databases()["DatabaseList"] == []
        boto.close()
        assert dog.refresh() is False  # nothing on disk changed
        # "The CLI" syncs: simulated by a full snapshot written next to it, then renamed.
        other = snapshot.with_name("other.json")
        from moto.glue.models import glue_backends

        from doubles.glue_embedded import dump_backend, write_atomically

        backend = glue_backends[dog.account_id][REGION]
        _add(dog, "sales", "orders", "customers")
        cli_data = dump_backend(backend)
        backend.reset()
        write_atomically(other, cli_data)
        os.replace(other, snapshot)
        assert dog.refresh() is True
        boto = _boto(dog)
        assert {t["Name"] for t in boto.get_tables(DatabaseName="sales")["TableList"]} == {
            "orders",
            "customers",
        }
        boto.close()
        # A change made in Dog afterwards is saved on top of the CLI's catalog.
        _add(dog, "sales", "returns")
        assert dog.save() is True
    finally:
        dog.stop()
    assert _tables(snapshot) == {"sales.orders", "sales.customers", "sales.returns"}


def test_a_failed_write_leaves_the_previous_snapshot_and_no_temp_file(
    snapshot: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with start_embedded_glue(snapshot, REGION) as first:
        _add(first, "sales", "orders")
    before = snapshot.read_bytes()
    emb = start_embedded_glue(snapshot, REGION)
    _add(emb, "sales", "customers")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("doubles.glue_embedded.os.replace", broken_replace)
    with pytest.raises(OSError):
        emb.save()
    monkeypatch.undo()
    assert snapshot.read_bytes() == before
    assert [p.name for p in snapshot.parent.iterdir()] == [snapshot.name]
    emb.stop()
    assert _tables(snapshot) == {"sales.orders", "sales.customers"}


# ------------------------------------------ the real thing: a Dog process and the CLI


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dog_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGSYNC_")}
    env.update(
        DGSYNC_STATE_DIR=str(tmp_path / "state"),
        DGSYNC_DATABASE_URL=f"sqlite:///{tmp_path / 'state' / 'state.db'}",
        DGSYNC_DATASPHERE__SPACES='["HR"]',  # one space keeps the CLI sync short
        DGSYNC_LOG_FORMAT="console",
    )
    return env


@pytest.fixture
def dog_process(dog_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    with (tmp_path / "dog.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dog_flask", "--port", str(port)],
            cwd=tmp_path, env=dog_env, stdout=log, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/favicon.ico", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "dog.log").read_text()) from None
                time.sleep(0.2)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _dry_run(base: str) -> str:
    with httpx.Client(base_url=base, timeout=120) as c:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/plan/").text)
        assert token
        r = c.post("/plan/_rows", data={"csrf_token": token.group(1), "show_all": "1"})
        assert r.status_code == 200, r.text
        return r.text


def test_cli_sync_is_seen_by_a_running_dog_and_sigterm_keeps_every_table(
    dog_process: tuple[subprocess.Popen[bytes], str], dog_env: dict[str, str], tmp_path: Path
) -> None:
    proc, base = dog_process
    assert 'data-action="create"' in _dry_run(base)  # Dog's Glue starts empty
    cli = subprocess.run(
        [str(Path(sys.executable).with_name("dgsync")), "sync"],
        cwd=tmp_path, env=dog_env, capture_output=True, text=True, timeout=180,
    )
    assert cli.returncode == 0, cli.stderr + cli.stdout
    snapshot = tmp_path / "state" / "dog-glue.json"
    synced = _tables(snapshot)
    assert synced
    html = _dry_run(base)
    assert 'data-action="noop"' in html
    assert 'data-action="create"' not in html and 'data-action="update"' not in html
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert _tables(snapshot) == synced
    plan = subprocess.run(
        [str(Path(sys.executable).with_name("dgsync")), "plan", "--format", "json"],
        cwd=tmp_path, env=dog_env, capture_output=True, text=True, timeout=180,
    )
    assert plan.returncode == 0, plan.stderr
    counts = json.loads(plan.stdout)["counts"]
    assert counts["created"] == counts["updated"] == 0 and counts["unchanged"] >= len(synced)
