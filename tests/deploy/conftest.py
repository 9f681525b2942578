"""Fixtures of the deployment tests: the template, and the IaC tools' own virtualenv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "bear" / "template.yaml"
IAC_REQUIREMENTS = ROOT / "deploy" / "bear" / "requirements-iac.txt"
IAC_VENV = ROOT / ".venv-iac"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub...) as ``{"Fn::X": value}``."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if name == "Fn::GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template() -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CfnLoader)
    return data


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


def _pins() -> list[str]:
    return [line.strip() for line in IAC_REQUIREMENTS.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="session")
def iac_bin() -> Path:
    """``.venv-iac/bin`` with the pinned cfn-lint, aws-sam-translator and checkov (made once;
    `make iac-tools` and scripts/test.sh make it before the suite)."""
    stamp = IAC_VENV / ".pins"
    wanted = "\n".join(_pins())
    if not stamp.exists() or stamp.read_text().strip() != wanted:
        subprocess.run([sys.executable, "-m", "venv", str(IAC_VENV)], check=True, timeout=120)
        subprocess.run([str(IAC_VENV / "bin" / "pip"), "install", "-q", "-r", str(IAC_REQUIREMENTS)],
                       check=True, timeout=900)
        stamp.write_text(wanted)
    return IAC_VENV / "bin"


def offline_env() -> dict[str, str]:
    """The environment for the tools: no proxy, no credentials, nothing to phone home with."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DGSYNC_"))}
    env.update({"BC_SKIP_MAPPING": "TRUE", "CHECKOV_SKIP_DOWNLOAD": "TRUE", "NO_PROXY": "*"})
    return env
