"""The generated IAM policy, checked like the IAM policy simulator would.

A small evaluator (independent of the generator) decides allow/deny for an action on a set of
resource ARNs: allowed when every ARN is matched by an Allow statement naming the action and
no Deny matches (IAM's ``*``/``?`` wildcards, ``*`` crossing ``/``). ``OPERATION_RESOURCES``
says which ARNs each Glue call touches, per AWS's rule for the Data Catalog: the resource and
every ancestor (catalog → database → table); ``GetDatabases``/``GetTables`` are filtered by
Glue to what the caller may read, so they need the catalog, the database(s) and the tables.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from click.testing import CliRunner

from core.errors import ConfigError
from core.glue.iam import (
    ACCOUNT_PLACEHOLDER,
    CATALOG_ACTIONS,
    WildcardRefused,
    database_scope,
    generate_policy,
    granted_actions,
)
from core.mapping.rules import Rules, default_rules

REPO = Path(__file__).resolve().parents[2]
CLIENT_SOURCE = REPO / "core" / "glue" / "client.py"
DEPLOY_POLICY = REPO / "deploy" / "iam-policy.json"
REGION = "eu-central-1"
ACCOUNT = "123456789012"
BASE = f"arn:aws:glue:{REGION}:{ACCOUNT}"
CATALOG = f"{BASE}:catalog"


def _db(name: str) -> str:
    return f"{BASE}:database/{name}"


def _table(db: str, table: str) -> str:
    return f"{BASE}:table/{db}/{table}"


Resources = Callable[[str], list[str]]
#: The ARNs each Glue call of GlueClient touches, for a call about database ``db``.
OPERATION_RESOURCES: dict[str, Resources] = {
    "GetDatabases": lambda db: [CATALOG, _db(db)],
    "GetDatabase": lambda db: [CATALOG, _db(db)],
    "CreateDatabase": lambda db: [CATALOG, _db(db)],
    "UpdateDatabase": lambda db: [CATALOG, _db(db)],
    "DeleteDatabase": lambda db: [
        CATALOG, _db(db), _table(db, "orders"), f"{BASE}:userDefinedFunction/{db}/f"
    ],
    "GetTags": lambda db: [_db(db)],
    "TagResource": lambda db: [_db(db)],
    "UntagResource": lambda db: [_db(db)],
    "GetTables": lambda db: [CATALOG, _db(db), _table(db, "orders"), _table(db, "items")],
    "GetTable": lambda db: [CATALOG, _db(db), _table(db, "orders")],
    "CreateTable": lambda db: [CATALOG, _db(db), _table(db, "orders")],
    "UpdateTable": lambda db: [CATALOG, _db(db), _table(db, "orders")],
    "DeleteTable": lambda db: [CATALOG, _db(db), _table(db, "orders")],
    "BatchDeleteTable": lambda db: [CATALOG, _db(db), _table(db, "orders"), _table(db, "x")],
    "GetTableVersions": lambda db: [CATALOG, _db(db), _table(db, "orders")],
    "GetPartitions": lambda db: [CATALOG, _db(db), _table(db, "orders")],
    "BatchCreatePartition": lambda db: [CATALOG, _db(db), _table(db, "orders")],
}
DELETES = {"DeleteTable", "BatchDeleteTable"}


def _iam_match(pattern: str, value: str) -> bool:
    # IAM: * any run of characters (including '/'), ? one character, case-sensitive
    return fnmatchcase(value, pattern.replace("[", "[[]"))


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def is_allowed(policy: dict[str, Any], action: str, resources: list[str]) -> bool:
    """IAM evaluation over one identity policy: explicit deny wins, then allow, else deny."""
    for resource in resources:
        allowed = False
        for st in policy["Statement"]:
            actions = _as_list(st["Action"])
            if not any(_iam_match(a.lower(), f"glue:{action}".lower()) for a in actions):
                continue
            if not any(_iam_match(r, resource) for r in _as_list(st["Resource"])):
                continue
            if st["Effect"] == "Deny":
                return False
            allowed = True
        if not allowed:
            return False
    return True


def _client_operations() -> set[str]:
    source = CLIENT_SOURCE.read_text(encoding="utf-8")
    return set(re.findall(r'_(?:call|call_or_none|paginate)\(\s*"([A-Za-z]+)"', source))


def _policy(
    spaces: list[str],
    deletion: str = "log",
    rules: Rules | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    scope = database_scope(rules or default_rules(), env="wolf", spaces=spaces)
    return generate_policy(
        scope, region=REGION, account=ACCOUNT, deletion_policy=deletion, **kwargs  # type: ignore[arg-type]
    ).document


# -- coverage: the simulation knows every call the client makes ------------------------------


def test_simulated_operations_are_exactly_the_clients_calls() -> None:
    operations = _client_operations()
    assert {"GetTables", "UpdateTable", "BatchDeleteTable", "TagResource"} <= operations
    assert set(OPERATION_RESOURCES) == operations


def test_generator_knows_exactly_the_clients_calls() -> None:
    assert _client_operations() == CATALOG_ACTIONS


def test_client_operations_exist_in_the_glue_service_model() -> None:
    model = botocore.session.get_session().get_service_model("glue")
    assert _client_operations() <= set(model.operation_names)


# -- allow / deny per operation --------------------------------------------------------------


@pytest.mark.parametrize("deletion", ["log", "deprecate", "delete"])
@pytest.mark.parametrize("operation", sorted(OPERATION_RESOURCES))
def test_every_call_on_a_managed_database_is_allowed_only_as_needed(
    operation: str, deletion: str
) -> None:
    policy = _policy(["SALES", "FINANCE"], deletion)
    allowed = is_allowed(policy, operation, OPERATION_RESOURCES[operation]("sales"))
    if operation == "DeleteDatabase":
        assert not allowed
    elif operation in DELETES:
        assert allowed == (deletion == "delete")
    else:
        assert allowed


@pytest.mark.parametrize("operation", sorted(OPERATION_RESOURCES))
def test_no_call_reaches_a_database_dgsync_does_not_manage(operation: str) -> None:
    policy = _policy(["SALES"], "delete", allow_delete_database=True)
    for other in ("hr", "sales_archive", "salesx", "raw"):
        assert not is_allowed(policy, operation, OPERATION_RESOURCES[operation](other)), other


def test_delete_database_only_when_asked() -> None:
    resources = OPERATION_RESOURCES["DeleteDatabase"]("sales")
    assert not is_allowed(_policy(["SALES"], "delete"), "DeleteDatabase", resources)
    assert is_allowed(
        _policy(["SALES"], "delete", allow_delete_database=True), "DeleteDatabase", resources
    )


def test_no_action_beyond_the_clients_calls_and_no_action_wildcards() -> None:
    policy = _policy(["SALES"], "delete", allow_delete_database=True)
    assert granted_actions(policy) == _client_operations()
    for st in policy["Statement"]:
        assert st["Effect"] == "Allow"
        assert all(a.startswith("glue:") and "*" not in a for a in st["Action"])
    assert not is_allowed(policy, "DeleteConnection", [CATALOG])


def test_a_bare_catalog_grant_never_opens_other_tables() -> None:
    # The catalog ARN is in every statement (an ancestor), but a call also needs its database
    policy = _policy(["SALES"], "delete")
    assert not is_allowed(policy, "UpdateTable", [CATALOG, _db("hr"), _table("hr", "t")])
    assert not is_allowed(policy, "GetDatabases", [CATALOG, _db("hr")])


# -- database derivation ---------------------------------------------------------------------


def test_spaces_give_exact_database_arns_with_the_template() -> None:
    rules = Rules.model_validate(
        {"databases": {"env_prefix": {"wolf": "dgs_"}, "names": {"HR": "people"}}}
    )
    policy = _policy(["SALES", "HR"], rules=rules)
    resources = {r for st in policy["Statement"] for r in st["Resource"]}
    assert _db("dgs_sales") in resources and _db("people") in resources
    assert not any("*" in r for r in resources if ":database/" in r)
    assert is_allowed(policy, "CreateTable", OPERATION_RESOURCES["CreateTable"]("dgs_sales"))
    assert not is_allowed(policy, "CreateTable", OPERATION_RESOURCES["CreateTable"]("sales"))


def test_default_rules_without_spaces_refuse_an_account_wide_policy() -> None:
    scope = database_scope(default_rules(), env="wolf", spaces=[])
    assert scope.account_wide
    with pytest.raises(WildcardRefused) as info:
        generate_policy(scope, region=REGION, account=ACCOUNT, deletion_policy="delete")
    assert "every Glue database" in info.value.message and "--space" in info.value.hint
    wide = generate_policy(
        scope, region=REGION, account=ACCOUNT, deletion_policy="log", allow_wildcard=True
    )
    assert any("WARNING" in n for n in wide.notes)


def test_a_prefix_in_the_rules_bounds_the_pattern_when_spaces_are_unknown() -> None:
    rules = Rules.model_validate({"databases": {"env_prefix": {"wolf": "dgsync_"}}})
    scope = database_scope(rules, env="wolf", spaces=[])
    assert scope.patterns == ("dgsync_*",) and not scope.account_wide
    assert scope.notes  # says why a pattern was needed
    policy = generate_policy(scope, region=REGION, account=ACCOUNT, deletion_policy="delete").document
    assert is_allowed(policy, "UpdateTable", OPERATION_RESOURCES["UpdateTable"]("dgsync_sales"))
    assert not is_allowed(policy, "UpdateTable", OPERATION_RESOURCES["UpdateTable"]("sales"))


def test_include_and_exclude_spaces_shape_the_scope() -> None:
    literal = Rules.model_validate({"include": {"spaces": ["SALES", "HR"]}})
    assert database_scope(literal, env="wolf", spaces=[]).names == ("hr", "sales")
    globbed = Rules.model_validate(
        {"include": {"spaces": ["FIN_*"]}, "databases": {"names": {"FIN_X": "finx"}}}
    )
    scope = database_scope(globbed, env="wolf", spaces=[])
    assert scope.patterns == ("fin_*",) and scope.names == ("finx",)
    excluded = Rules.model_validate({"exclude": {"spaces": ["HR"]}})
    assert database_scope(excluded, env="wolf", spaces=["SALES", "HR"]).names == ("sales",)
    with pytest.raises(ConfigError):
        database_scope(excluded, env="wolf", spaces=["HR"])


def test_account_placeholder_partition_and_bad_account() -> None:
    scope = database_scope(default_rules(), env="wolf", spaces=["SALES"])
    doc = generate_policy(scope, region="cn-north-1", account=None, deletion_policy="log")
    text = doc.to_json()
    assert f"arn:aws-cn:glue:cn-north-1:{ACCOUNT_PLACEHOLDER}:database/sales" in text
    assert any("placeholder" in n for n in doc.notes)
    with pytest.raises(ConfigError):
        generate_policy(scope, region=REGION, account="12345", deletion_policy="log")


# -- the command and the shipped example ---------------------------------------------------------


def test_cli_prints_the_policy_and_notes_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dgsync_cli.main import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DGSYNC_DATASPHERE__SPACES", raising=False)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["iam-policy", "--space", "SALES", "--account", ACCOUNT,
              "--deletion-policy", "delete"],
    )
    assert result.exit_code == 0, result.output
    policy = json.loads(result.stdout)
    assert is_allowed(policy, "BatchDeleteTable", OPERATION_RESOURCES["BatchDeleteTable"]("sales"))
    assert not is_allowed(policy, "DeleteDatabase", OPERATION_RESOURCES["DeleteDatabase"]("sales"))
    assert "note: databases covered: sales" in result.stderr
    refused = runner.invoke(cli, ["iam-policy"])
    assert refused.exit_code == 2
    assert "every Glue database" in refused.stderr and "hint:" in refused.stderr


def test_deploy_example_is_what_the_generator_prints(tmp_path: Path) -> None:
    readme = (REPO / "deploy" / "README.md").read_text(encoding="utf-8")
    match = re.search(r"`(dgsync iam-policy[^`]*)`", readme)
    assert match, "deploy/README.md names the command that generated the example"
    args = match.group(1).split()[1:]
    env = {"DGSYNC_ENV": "dog", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [str(Path(sys.executable).parent / "dgsync"), *args],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads(DEPLOY_POLICY.read_text(encoding="utf-8"))


def test_cli_discover_reads_the_spaces_from_the_tenant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dgsync_cli.main import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DGSYNC_ENV", "dog")  # the embedded emulator is the tenant
    result = CliRunner().invoke(cli, ["iam-policy", "--discover", "--account", ACCOUNT])
    assert result.exit_code == 0, result.output
    policy = json.loads(result.stdout)
    databases = {
        r.rsplit("/", 1)[1]
        for st in policy["Statement"]
        for r in st["Resource"]
        if ":database/" in r
    }
    assert {"sales", "finance", "hr"} <= databases and "*" not in databases
    assert is_allowed(policy, "UpdateTable", OPERATION_RESOURCES["UpdateTable"]("hr"))
    both = CliRunner().invoke(cli, ["iam-policy", "--discover", "--space", "SALES"])
    assert both.exit_code == 2 and "exclude each other" in both.stderr
