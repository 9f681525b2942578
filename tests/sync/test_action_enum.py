"""One enum of plan actions: the plan and the store share it; ``fail`` is never planned."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.specs import PLAN_ACTIONS, Action
from core.store.schemas import ItemAction
from core.sync import plan as plan_module
from core.sync.plan import Plan, PlanItem


def _item(action: str) -> PlanItem:
    return PlanItem.model_validate(
        {"action": action, "object_type": "table", "database": "sales", "name": "t", "reason": "r"}
    )


def test_plan_and_store_use_the_same_enum() -> None:
    assert plan_module.Action is Action
    assert ItemAction is Action
    assert ItemAction("fail") is Action.FAIL


def test_a_plan_item_cannot_be_fail_but_every_plan_action_is_accepted() -> None:
    with pytest.raises(ValidationError, match="cannot be 'fail'"):
        _item("fail")
    assert [_item(a.value).action for a in PLAN_ACTIONS] == list(PLAN_ACTIONS)


def test_plan_counts_list_the_plan_actions_only() -> None:
    plan = Plan(items=[_item("create"), _item("create"), _item("skip")])
    counts = plan.counts()
    assert "fail" not in counts
    assert counts == {a.value: {"create": 2, "skip": 1}.get(a.value, 0) for a in PLAN_ACTIONS}


def test_only_the_four_writing_actions_write() -> None:
    assert {a for a in Action if a.writes} == {
        Action.CREATE, Action.UPDATE, Action.DEPRECATE, Action.DELETE
    }
