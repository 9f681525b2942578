"""Least-privilege IAM policy for dgsync, generated from the settings and mapping rules.

The policy grants exactly the Glue actions :class:`core.glue.client.GlueClient` can call, on
the Data Catalog resources dgsync manages, and nothing more:

* **Databases**: the databases the mapping rules produce for the spaces in scope
  (``DGSYNC_DATASPHERE__SPACES``, ``--space``, or the rules' ``include.spaces``), named with
  :meth:`core.mapping.rules.Rules.database_name` — exact ARNs. Only when the spaces are not
  known offline does a database *pattern* appear, derived from the rules' database template
  (``{prefix}{space}{env_suffix}`` → ``dgsync_*``); a bare ``*`` (the default template, no
  prefix, no spaces) would let dgsync change every database of the account, so it is refused
  unless asked for explicitly (:class:`WildcardRefused`).
* **Actions**: reads and writes the sync needs; ``DeleteTable``/``BatchDeleteTable`` only with
  ``deletion_policy=delete``; ``DeleteDatabase`` only when asked (dgsync never deletes a
  database on its own).
* **Resources** per AWS's rule for Data Catalog calls: a call needs permission on the resource
  it touches *and on every ancestor* (catalog → database → table). List calls
  (``GetDatabases``, ``GetTables``) are scoped too: Glue returns only the databases and
  tables the caller may read, so they need no account-wide grant.

Pure: no network, no boto3. :func:`render_policy` gives the JSON document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from core.errors import ConfigError
from core.mapping.rules import Rules

__all__ = [
    "ACCOUNT_PLACEHOLDER",
    "CATALOG_ACTIONS",
    "DATABASE_ACTIONS",
    "DATABASE_DELETE_ACTIONS",
    "LIST_ACTIONS",
    "TABLE_ACTIONS",
    "TABLE_DELETE_ACTIONS",
    "DatabaseScope",
    "GeneratedPolicy",
    "WildcardRefused",
    "database_scope",
    "generate_policy",
    "granted_actions",
    "partition_of",
    "render_policy",
]

#: Used for the account id when it is not known offline (``--account`` or
#: ``DGSYNC_GLUE__CATALOG_ID`` fill it in).
ACCOUNT_PLACEHOLDER = "<ACCOUNT_ID>"

DeletionPolicy = Literal["log", "deprecate", "delete"]

#: Listing the catalog's databases (filtered by Glue to the databases the caller may read).
LIST_ACTIONS: tuple[str, ...] = ("GetDatabases",)
#: Calls on a database (and the catalog above it).
DATABASE_ACTIONS: tuple[str, ...] = (
    "GetDatabase",
    "CreateDatabase",
    "UpdateDatabase",
    "GetTags",
    "TagResource",
    "UntagResource",
)
#: Only with ``allow_delete_database`` (dgsync itself never deletes a database during a sync).
DATABASE_DELETE_ACTIONS: tuple[str, ...] = ("DeleteDatabase",)
#: Calls on tables of a managed database (reads, creates, updates, partitions).
TABLE_ACTIONS: tuple[str, ...] = (
    "GetTables",
    "GetTable",
    "CreateTable",
    "UpdateTable",
    "GetTableVersions",
    "GetPartitions",
    "BatchCreatePartition",
)
#: Only with ``deletion_policy=delete``.
TABLE_DELETE_ACTIONS: tuple[str, ...] = ("DeleteTable", "BatchDeleteTable")
#: Every Glue operation the generator knows about (= every call GlueClient can make).
CATALOG_ACTIONS: frozenset[str] = frozenset(
    LIST_ACTIONS + DATABASE_ACTIONS + DATABASE_DELETE_ACTIONS + TABLE_ACTIONS + TABLE_DELETE_ACTIONS
)

_SENTINEL = "zqxjspacezqxj"
_GLOB_CHARS = re.compile(r"[*?\[]")


class WildcardRefused(ConfigError):
    """The policy would grant writes on every database of the account."""

    default_hint = (
        "Name the spaces (DGSYNC_DATASPHERE__SPACES, `dgsync iam-policy --space SPACE`, or "
        "`--discover` to read them from the tenant), or give the databases a prefix in the "
        "rules (databases.env_prefix / template); `--allow-wildcard` accepts the account-wide "
        "grant knowingly."
    )


@dataclass(frozen=True)
class DatabaseScope:
    """The databases a policy covers: exact ``names`` and IAM ``patterns`` (``*``/``?``)."""

    names: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    #: Why patterns were needed (empty when every database is named exactly).
    notes: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        return not self.patterns

    @property
    def account_wide(self) -> bool:
        """True when a pattern matches every database name (a bare ``*``)."""
        return any(set(p) <= {"*"} for p in self.patterns)

    def all(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.names) | set(self.patterns)))


@dataclass(frozen=True)
class GeneratedPolicy:
    """The policy document plus what a reader must know about it."""

    document: dict[str, Any]
    scope: DatabaseScope
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> str:
        return render_policy(self.document)


def partition_of(region: str) -> str:
    """The ARN partition of an AWS region (``aws``, ``aws-cn``, ``aws-us-gov``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _is_glob(pattern: str) -> bool:
    return pattern.startswith("re:") or bool(_GLOB_CHARS.search(pattern))


def _matches_glob(pattern: str, value: str) -> bool:
    from fnmatch import fnmatchcase

    return fnmatchcase(value, pattern)


def _template_pattern(rules: Rules, env: str, space_pattern: str) -> str:
    """The database pattern for spaces matching ``space_pattern`` (an IAM pattern over the
    *Glue* form of the space name). Characters Glue would rewrite become ``*`` (a superset)."""
    rendered = rules.database_name(_SENTINEL, env)
    if _SENTINEL not in rendered:  # the template hashed or shortened the name: be broad
        return "*"
    return rendered.replace(_SENTINEL, space_pattern)


def _glob_to_iam(glob: str) -> str:
    text = glob.lower()
    text = re.sub(r"\[[^\]]*\]", "?", text)
    return re.sub(r"[^a-z0-9_*?]+", "*", text) or "*"


def database_scope(
    rules: Rules,
    *,
    env: str,
    spaces: Sequence[str] = (),
) -> DatabaseScope:
    """The Glue databases dgsync may write for ``spaces`` (empty: not known) under ``rules``.

    Spaces excluded by the rules' ``include.spaces`` / ``exclude.spaces`` are left out.
    """

    def in_scope(space: str) -> bool:
        inc, exc = rules.include.spaces, rules.exclude.spaces
        if inc and not any(_space_match(p, space) for p in inc):
            return False
        return not any(_space_match(p, space) for p in exc)

    if spaces:
        names = sorted({rules.database_name(s, env) for s in spaces if in_scope(s)})
        if not names:
            raise ConfigError(
                f"none of the spaces {', '.join(spaces)} is in scope of the mapping rules",
                hint="Check the spaces given and the rules' include/exclude.spaces.",
            )
        return DatabaseScope(names=tuple(names))
    include = rules.include.spaces
    explicit = {s: n for s, n in rules.databases.names.items() if in_scope(s)}
    if include and not any(_is_glob(p) for p in include):
        names = sorted({rules.database_name(s, env) for s in include if in_scope(s)})
        return DatabaseScope(names=tuple(names))
    patterns: set[str] = set()
    notes: list[str] = []
    if include:
        for p in include:
            if p.startswith("re:"):
                patterns.add(_template_pattern(rules, env, "*"))
                notes.append(
                    f"include.spaces {p!r} is a regular expression; IAM cannot express it, "
                    "so the database template with any space is used"
                )
            elif _is_glob(p):
                patterns.add(_template_pattern(rules, env, _glob_to_iam(p)))
                notes.append(
                    f"include.spaces {p!r} is a glob: the spaces it will match are not "
                    "known offline, so databases are matched by pattern"
                )
            elif in_scope(p):
                explicit[p] = rules.database_name(p, env)
    else:
        patterns.add(_template_pattern(rules, env, "*"))
        notes.append(
            "the spaces are not known offline (no DGSYNC_DATASPHERE__SPACES, no --space, no "
            "include.spaces in the rules), so databases are matched by the rules' database "
            "template"
        )
    # explicit names a pattern already covers need no entry of their own
    names = sorted(
        n for n in set(explicit.values()) if not any(_matches_glob(p, n) for p in patterns)
    )
    return DatabaseScope(names=tuple(names), patterns=tuple(sorted(patterns)), notes=tuple(notes))


def _space_match(pattern: str, space: str) -> bool:
    if pattern.startswith("re:"):
        return re.fullmatch(pattern[3:], space) is not None
    return _matches_glob(pattern, space)


def generate_policy(
    scope: DatabaseScope,
    *,
    region: str,
    account: str | None,
    deletion_policy: DeletionPolicy,
    allow_delete_database: bool = False,
    allow_wildcard: bool = False,
) -> GeneratedPolicy:
    """The IAM policy for ``scope`` (see the module doc). ``account`` ``None`` gives the
    ``<ACCOUNT_ID>`` placeholder. Raises :class:`WildcardRefused` for an account-wide database
    pattern unless ``allow_wildcard``."""
    if not scope.names and not scope.patterns:
        raise ConfigError("the policy would cover no database", hint=WildcardRefused.default_hint)
    if scope.account_wide and not allow_wildcard:
        raise WildcardRefused(
            "the mapping rules give no database prefix and the spaces are not known, so the "
            "policy would let dgsync "
            + ("create, update and delete" if deletion_policy == "delete" else "create and update")
            + " tables in every Glue database of the account"
        )
    if account is not None and not re.fullmatch(r"\d{12}", account):
        raise ConfigError(
            f"{account!r} is not an AWS account id",
            hint="Pass the 12-digit id of the account that owns the catalog (--account).",
        )
    acct = account or ACCOUNT_PLACEHOLDER
    base = f"arn:{partition_of(region)}:glue:{region}:{acct}"
    catalog = f"{base}:catalog"
    databases = [f"{base}:database/{d}" for d in scope.all()]
    tables = [f"{base}:table/{d}/*" for d in scope.all()]

    def statement(sid: str, actions: Iterable[str], resources: list[str]) -> dict[str, Any]:
        return {
            "Sid": sid,
            "Effect": "Allow",
            "Action": [f"glue:{a}" for a in actions],
            "Resource": resources,
        }

    statements = [
        statement("DgsyncListManagedDatabases", LIST_ACTIONS, [catalog, *databases]),
        statement("DgsyncManagedDatabases", DATABASE_ACTIONS, [catalog, *databases]),
        statement("DgsyncManagedTables", TABLE_ACTIONS, [catalog, *databases, *tables]),
    ]
    if deletion_policy == "delete":
        statements.append(
            statement("DgsyncDeleteManagedTables", TABLE_DELETE_ACTIONS, [catalog, *databases, *tables])
        )
    if allow_delete_database:
        # DeleteDatabase removes the tables and functions in it: AWS checks all of them
        functions = [f"{base}:userDefinedFunction/{d}/*" for d in scope.all()]
        statements.append(
            statement(
                "DgsyncDeleteManagedDatabases",
                DATABASE_DELETE_ACTIONS,
                [catalog, *databases, *tables, *functions],
            )
        )
    notes = list(scope.notes)
    if scope.account_wide:
        notes.append(
            "WARNING: the database pattern '*' covers every database of the account "
            "(--allow-wildcard); dgsync still only changes tables it manages, but IAM does "
            "not enforce that"
        )
    if account is None:
        notes.append(
            f"the account id is a placeholder ({ACCOUNT_PLACEHOLDER}): pass --account or set "
            "DGSYNC_GLUE__CATALOG_ID"
        )
    if deletion_policy != "delete":
        notes.append(
            f"deletion_policy={deletion_policy}: no DeleteTable/BatchDeleteTable granted"
        )
    if not allow_delete_database:
        notes.append("DeleteDatabase is not granted (dgsync never deletes databases)")
    document = {"Version": "2012-10-17", "Statement": statements}
    return GeneratedPolicy(document=document, scope=scope, notes=tuple(notes))


def granted_actions(document: dict[str, Any]) -> set[str]:
    """Every action an Allow statement of ``document`` names (``glue:`` prefix removed)."""
    out: set[str] = set()
    for st in document.get("Statement", []):
        if st.get("Effect") == "Allow":
            actions = st.get("Action", [])
            for a in [actions] if isinstance(actions, str) else actions:
                out.add(str(a).split(":", 1)[-1])
    return out


def render_policy(document: dict[str, Any]) -> str:
    """The policy as stable, indented JSON (with a trailing newline)."""
    return json.dumps(document, indent=2) + "\n"
