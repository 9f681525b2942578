"""deploy/bear/template.yaml: clean under cfn-lint and checkov, and wired the way Bear's code
expects (handlers, queue, metrics, alarms, secrets)."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bear_lambda import observability

from .conftest import TEMPLATE, offline_env

pytestmark = pytest.mark.deploy

FUNCTIONS = ("ApiFunction", "SchedulerFunction", "WorkerFunction", "MigrationFunction")


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_cfn_lint_is_clean(iac_bin: Path) -> None:
    done = subprocess.run([str(iac_bin / "cfn-lint"), str(TEMPLATE)], capture_output=True, text=True,
                          timeout=300, env=offline_env())
    assert done.returncode == 0, done.stdout + done.stderr


def test_checkov_is_clean_and_every_exception_is_justified(iac_bin: Path, template: dict[str, Any]) -> None:
    done = subprocess.run(
        [str(iac_bin / "checkov"), "-f", str(TEMPLATE), "--framework", "cloudformation", "--skip-download",
         "--compact", "-o", "json"],
        capture_output=True, text=True, timeout=300, env=offline_env(),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)
    summary = report["summary"]
    assert summary["failed"] == 0 and summary["passed"] > 30
    declared = [s for r in template["Resources"].values() for s in r.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert summary["skipped"] == len(declared), "every declared exception is applied, no other"
    for name, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV_AWS_\d+", skip["id"])
            assert len(skip.get("comment", "")) > 30, f"{name}: {skip['id']} has no justification"


def test_every_handler_exists_and_the_functions_are_published_with_a_canary(template: dict[str, Any]) -> None:
    functions = resources(template, "AWS::Serverless::Function")
    assert set(functions) == set(FUNCTIONS)
    for name, fn in functions.items():
        module, _, attr = fn["Properties"]["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), attr)), name
    assert template["Globals"]["Function"]["AutoPublishAlias"] == "live"
    assert template["Globals"]["Function"]["Runtime"] == "python3.12"
    for name in ("ApiFunction", "SchedulerFunction", "WorkerFunction"):
        preference = functions[name]["Properties"]["DeploymentPreference"]
        assert preference["Type"] == {"Ref": "DeploymentType"}
        alarms = [a["Ref"] for a in preference["Alarms"]]
        assert alarms and all(template["Resources"][a]["Type"] == "AWS::CloudWatch::Alarm" for a in alarms)
        # The new version goes live only after the state store was migrated.
        assert functions[name]["DependsOn"] == "StateStoreMigration"


def test_the_queue_outlives_a_worker_and_feeds_it_partial_batches(template: dict[str, Any]) -> None:
    res = template["Resources"]
    worker = res["WorkerFunction"]["Properties"]
    assert res["SliceQueue"]["Properties"]["VisibilityTimeout"] > worker["Timeout"] == 900
    redrive = res["SliceQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["SliceDeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    event = worker["Events"]["Slices"]
    assert event["Type"] == "SQS"
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert worker["ReservedConcurrentExecutions"] == {"Ref": "WorkerReservedConcurrency"}
    # The worker stops STOP_MARGIN_S before its timeout; the slice budget leaves room for it.
    import bear_lambda.handler as bear

    budget = template["Parameters"]["SliceBudgetSeconds"]
    assert budget["MaxValue"] < worker["Timeout"] - bear.STOP_MARGIN_S
    schedule = res["SchedulerFunction"]["Properties"]["Events"]["Tick"]
    assert schedule["Type"] == "ScheduleV2"
    migration = res["StateStoreMigration"]
    assert migration["Type"] == "Custom::StateStoreMigration"
    assert migration["Properties"]["CodeVersion"] == {"Ref": "MigrationFunction.Version"}


def test_secrets_come_from_secrets_manager_never_from_env_vars(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["DGSYNC_SECRETS_SOURCE"] == {"Fn::Sub": "secretsmanager:${SecretArn}"}
    secret_like = re.compile(r"SECRET$|PASSWORD|TOKEN|DATABASE_URL|PEPPER", re.I)
    assert not [k for k in variables if secret_like.search(k) and k != "DGSYNC_SECRETS_SOURCE"]
    for name in FUNCTIONS:
        assert "Environment" not in template["Resources"][name]["Properties"]
    policy = template["Resources"]["ReadAppSecretPolicy"]["Properties"]["PolicyDocument"]
    assert policy["Statement"][0]["Action"] == "secretsmanager:GetSecretValue"
    assert policy["Statement"][0]["Resource"] == {"Ref": "SecretArn"}


def _actions(role: dict[str, Any]) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            action = node.get("Action")
            if node.get("Effect") == "Allow" and action:
                found.update([action] if isinstance(action, str) else action)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(role["Properties"].get("Policies", []))
    return found


def test_each_function_has_its_own_least_privilege_role(template: dict[str, Any]) -> None:
    res = template["Resources"]
    roles = {fn: res[fn]["Properties"]["Role"]["Fn::GetAtt"][0] for fn in FUNCTIONS}
    assert len(set(roles.values())) == 4
    worker, api = _actions(res[roles["WorkerFunction"]]), _actions(res[roles["ApiFunction"]])
    scheduler, migration = _actions(res[roles["SchedulerFunction"]]), _actions(res[roles["MigrationFunction"]])
    assert {"glue:CreateTable", "glue:UpdateTable", "sqs:ReceiveMessage", "sqs:DeleteMessage"} <= worker
    assert "glue:DeleteTable" not in worker  # deletion_policy=log, like `dgsync iam-policy`
    assert not any(a.startswith("glue:") and not a.startswith("glue:Get") for a in api)
    assert not any(a.startswith("glue:") for a in scheduler | migration)
    assert migration == {"logs:CreateLogStream", "logs:PutLogEvents"}
    every = worker | api | scheduler | migration
    assert not [a for a in every if a.endswith("*")]
    # Glue is scoped to the managed databases, pinned to this account and region.
    glue = next(p for p in res[roles["WorkerFunction"]]["Properties"]["Policies"] if p["PolicyName"] == "glue-managed")
    statement = glue["PolicyDocument"]["Statement"][0]
    assert "Fn::Split" in statement["Resource"]
    assert set(statement["Condition"]["StringEquals"]) == {"aws:ResourceAccount", "aws:RequestedRegion"}
    assume = next(p for p in res[roles["WorkerFunction"]]["Properties"]["Policies"] if p["PolicyName"] == "catalog-account")
    assert assume["PolicyDocument"]["Statement"][0]["Fn::If"][0] == "HasCatalogRole"


def test_alarms_watch_the_metrics_bear_emits_and_notify_the_topic(template: dict[str, Any]) -> None:
    emitted = set(re.findall(r"``(\w+)``\s{2,}", observability.__doc__ or ""))
    assert {"FailedRuns", "Throttles", "AssetsSynced", "GlueWrites", "RunDuration", "DeadLetterDepth"} <= emitted
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        if props["Namespace"] == "dgsync":
            assert props["MetricName"] in emitted, name
            dims = {d["Name"] for d in props["Dimensions"]}
            assert dims == {"Environment", "service"}  # exactly the EMF document's dimensions
    watched = {a["Properties"]["MetricName"] for a in alarms.values()}
    assert {"FailedRuns", "ApproximateNumberOfMessagesVisible", "Throttles", "5xx", "Errors"} <= watched
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    for metric in ("AssetsSynced", "GlueWrites", "FailedRuns", "Throttles", "RunDuration", "DeadLetterDepth"):
        assert f'"{metric}"' in body
    assert "slice finished" in body  # the "did last night's syncs run" table
