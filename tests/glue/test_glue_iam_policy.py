"""deploy/iam-policy.json grants exactly the Glue calls GlueClient makes, on scoped ARNs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "deploy" / "iam-policy.json"
CLIENT_SOURCE = REPO / "core" / "glue" / "client.py"
ARN = re.compile(
    r"arn:aws:glue:<REGION>:<ACCOUNT_ID>:"
    r"(catalog|database/(\*|<DB_PREFIX>\*)|table/<DB_PREFIX>\*/\*|userDefinedFunction/<DB_PREFIX>\*/\*)"
)


@pytest.fixture(scope="module")
def policy() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(POLICY.read_text(encoding="utf-8"))
    return data


def _client_operations() -> set[str]:
    source = CLIENT_SOURCE.read_text(encoding="utf-8")
    return set(re.findall(r'_(?:call|call_or_none|paginate)\(\s*"([A-Za-z]+)"', source))


def _granted(policy: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for statement in policy["Statement"]:
        actions.update(statement["Action"])
    return actions


def test_policy_is_a_valid_allow_only_document(policy: dict[str, Any]) -> None:
    assert policy["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all(a.startswith("glue:") and "*" not in a for a in statement["Action"])


def test_every_operation_the_client_makes_is_granted(policy: dict[str, Any]) -> None:
    operations = _client_operations()
    assert {"GetTables", "UpdateTable", "BatchDeleteTable", "TagResource"} <= operations
    assert {f"glue:{op}" for op in operations} <= _granted(policy)


def test_nothing_beyond_the_clients_operations_is_granted(policy: dict[str, Any]) -> None:
    assert _granted(policy) == {f"glue:{op}" for op in _client_operations()}


def test_client_operations_exist_in_the_glue_service_model() -> None:
    model = botocore.session.get_session().get_service_model("glue")
    assert _client_operations() <= set(model.operation_names)


def test_resources_are_scoped_with_placeholders(policy: dict[str, Any]) -> None:
    for statement in policy["Statement"]:
        for resource in statement["Resource"]:
            assert ARN.fullmatch(resource), resource
    writes = [s for s in policy["Statement"] if "glue:UpdateTable" in s["Action"]]
    assert writes and all("database/*" not in r for s in writes for r in s["Resource"])
