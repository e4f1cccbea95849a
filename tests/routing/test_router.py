"""The router: choice by weights and constraints, fallback, circuit breaker, learning, persistence."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crews.builder import run_task, task_text
from crews.schemas import VerdictOutput
from fakes.openai_server import Fault, ScriptedOpenAI
from pipelines.stage import Resources
from pipelines.store import RunStore
from routing.budget import Budget, TaskFailed
from routing.router import Router, TaskNeeds
from routing.stats import StatsStore, outcome
from settings import Settings

Servers = dict[str, ScriptedOpenAI]


def prompt(number: int = 0) -> str:
    """A fact-check prompt; distinct numbers make distinct (uncached) requests."""
    return task_text("fact_check", claim=f"Claim number {number} holds.", evidence="[1] It holds.")


def first_choice(router: Router, needs: TaskNeeds, cost_left: float = float("inf")) -> str:
    ranked, _ = router.rank(needs, cost_left)
    return ranked[0].spec.name


def test_choice_follows_the_weights(routed_settings: Callable[..., Settings]) -> None:
    # primary: fast, better, dear; backup: slow, worse, free.
    dear = {"cost_per_1k_input": 2.0, "cost_per_1k_output": 6.0}
    needs = TaskNeeds("fact_check", 500)
    only = {"weight_quality": 0.0, "weight_latency": 0.0, "weight_cost": 0.0}
    cost = routed_settings({**only, "weight_cost": 1.0}, primary=dear)
    latency = routed_settings({**only, "weight_latency": 1.0}, primary=dear)
    quality = routed_settings({**only, "weight_quality": 1.0}, primary=dear, backup={"quality": 0.3})
    assert first_choice(Router(cost), needs) == "backup"
    assert first_choice(Router(latency), needs) == "primary"
    assert first_choice(Router(quality), needs) == "primary"


def test_context_capabilities_and_cost_exclude_models(routed_settings: Callable[..., Settings]) -> None:
    settings = routed_settings(
        primary={"context_tokens": 2048, "cost_per_1k_input": 1.0},
        backup={"capabilities": ["tools"]},
    )
    router = Router(settings)
    ranked, excluded = router.rank(TaskNeeds("fact_check", 3000))
    assert ranked == []
    assert any("primary: context 2048 < 3700" in reason for reason in excluded)
    assert any("backup: no json_schema" in reason for reason in excluded)
    ranked, excluded = router.rank(TaskNeeds("fact_check", 500), cost_left=0.0001)
    assert ranked == [] and any("primary: $0.5000 over the $0.0001 left" in r for r in excluded)


def test_tier_targets_demote_but_do_not_exclude(routed_settings: Callable[..., Settings]) -> None:
    router = Router(
        routed_settings(primary={"quality": 0.2}, backup={"quality": 0.9, "latency_seconds": 1.0})
    )
    ranked, _ = router.rank(TaskNeeds("fact_check", 500, quality_floor=0.5))
    assert [c.spec.name for c in ranked] == ["backup", "primary"]
    assert "demoted: quality" in ranked[1].reasons


async def test_cost_budget_cut_is_reported(
    routed_settings: Callable[..., Settings], servers: Servers
) -> None:
    settings = routed_settings(primary={"cost_per_1k_input": 1.0}, backup={"cost_per_1k_input": 1.0})
    with pytest.raises(TaskFailed, match=r"skipped: the cost budget of this depth \(\$0\.0010\) is spent"):
        await run_task(
            "fact_check", Resources(settings), prompt(), VerdictOutput, Budget(10**6, cost_limit=0.001)
        )
    assert not servers["primary"].requests and not servers["backup"].requests


async def test_prices_are_spent_and_learnt(
    routed_settings: Callable[..., Settings], servers: Servers
) -> None:
    prices = {"cost_per_1k_input": 0.01, "cost_per_1k_output": 0.03}
    resources = Resources(routed_settings(primary=prices, backup=prices))
    budget = Budget(10**6, cost_limit=1.0)
    answer = await run_task("fact_check", resources, prompt(), VerdictOutput, budget)
    assert answer.model == "primary" and answer.value.verdict == "supported"
    assert 0 < budget.cost < 1.0 and budget.model_names() == "primary"
    assert resources.router.stats[("fact_check", "primary")].cost_usd > 0


@pytest.mark.parametrize("failure", ["http500", "timeout", "invalid"])
async def test_fallback_to_the_next_model(
    routed_settings: Callable[..., Settings], servers: Servers, failure: str
) -> None:
    primary = servers["primary"]
    if failure == "http500":
        primary.faults["VerdictOutput"] = Fault("http", 99, 500)
    elif failure == "invalid":
        primary.faults["VerdictOutput"] = Fault("malformed", 99)
    else:
        primary.delay = 3.0
    settings = routed_settings(primary={"timeout_seconds": 0.5})
    resources = Resources(settings)
    answer = await run_task("fact_check", resources, prompt(), VerdictOutput, Budget(10**6))
    assert answer.model == "backup" and answer.value.verdict == "supported"
    # an invalid answer is repaired once on the same model before falling back
    assert len(primary.requests) == (2 if failure == "invalid" else 1)
    assert len(servers["backup"].requests) == 1
    arm = resources.router.stats[("fact_check", "primary")]
    assert arm.failures == 1 and arm.successes == 0


async def test_attempts_are_bounded(routed_settings: Callable[..., Settings], servers: Servers) -> None:
    for server in servers.values():
        server.faults["VerdictOutput"] = Fault("malformed", 99)
    resources = Resources(routed_settings({"max_attempts": 3}))
    with pytest.raises(TaskFailed, match="did not match the schema"):
        await run_task("fact_check", resources, prompt(), VerdictOutput, Budget(10**6))
    assert len(servers["primary"].requests) + len(servers["backup"].requests) == 3


async def test_breaker_cools_a_failing_model_then_probes(
    routed_settings: Callable[..., Settings], servers: Servers
) -> None:
    primary = servers["primary"]
    primary.faults["VerdictOutput"] = Fault("http", 2, 503)
    now = [1000.0]
    settings = routed_settings(
        {
            "breaker_failures": 2,
            "breaker_cooldown_seconds": 60,
            "min_reliability": 0.0,
            "weight_quality": 1.0,
            "weight_latency": 0.0,
            "weight_cost": 0.0,
        },
        backup={"quality": 0.05},  # the primary stays first choice throughout
    )
    resources = Resources(settings, router=Router(settings, clock=lambda: now[0]))
    for number in range(2):  # two failures in a row open the breaker
        answer = await run_task("fact_check", resources, prompt(number), VerdictOutput, Budget(10**6))
        assert answer.model == "backup"
    assert len(primary.requests) == 2
    answer = await run_task("fact_check", resources, prompt(2), VerdictOutput, Budget(10**6))
    assert answer.model == "backup" and len(primary.requests) == 2  # cooling down: not even tried
    _, excluded = resources.router.rank(TaskNeeds("fact_check", 100))
    assert "primary: cooling down after repeated failures" in excluded
    now[0] += 61  # after the cooldown one probe goes through; it succeeds and closes the breaker
    answer = await run_task("fact_check", resources, prompt(3), VerdictOutput, Budget(10**6))
    assert answer.model == "primary" and len(primary.requests) == 3
    assert not resources.router.cooling("primary")


@pytest.mark.parametrize("seed", [1, 7, 42])
async def test_learning_shifts_choice_to_the_faster_model(
    routed_settings: Callable[..., Settings], servers: Servers, seed: int
) -> None:
    # The priors favour the primary, which is really the slow one. Latency is what counts here.
    servers["primary"].delay = 0.4
    settings = routed_settings(
        {"weight_quality": 0.0, "weight_latency": 1.0, "weight_cost": 0.0, "exploration": 0.1, "seed": seed},
        primary={"latency_seconds": 0.3, "quality": 0.7},
        backup={"latency_seconds": 0.6, "quality": 0.7},
    )
    resources = Resources(settings)
    chosen = [
        (await run_task("fact_check", resources, prompt(n), VerdictOutput, Budget(10**6))).model
        for n in range(24)
    ]
    assert chosen[0] == "primary"
    assert chosen[-8:].count("backup") >= 7


async def test_learning_persists_across_restarts(
    routed_settings: Callable[..., Settings], store: RunStore
) -> None:
    settings = routed_settings({"weight_quality": 0.0, "weight_latency": 1.0, "weight_cost": 0.0})
    before = Router(settings, StatsStore(store.engine))
    needs = TaskNeeds("fact_check", 500)
    assert first_choice(before, needs) == "primary"  # by its prior latency
    for _ in range(20):  # the primary turned out slow and unreliable, the backup fast
        await before.record(
            "fact_check", before.models[0], outcome(ok=False, seconds=None), transport_error=False
        )
        await before.record(
            "fact_check", before.models[1], outcome(ok=True, seconds=0.2), transport_error=False
        )
    after = Router(settings, StatsStore(store.engine))  # a restarted process
    await after.refresh(force=True)
    assert after.stats == before.stats
    assert after.stats[("fact_check", "backup")].calls == 20
    assert first_choice(after, needs) == "backup"


async def test_quality_signal_is_learnt(routed_settings: Callable[..., Settings], store: RunStore) -> None:
    settings = routed_settings({"weight_quality": 1.0, "weight_latency": 0.0, "weight_cost": 0.0})
    router = Router(settings, StatsStore(store.engine))
    for _ in range(60):
        await router.learn_quality("fact_check", "primary", 0.0)
        await router.learn_quality("fact_check", "backup", 1.0)
    restarted = Router(settings, StatsStore(store.engine))
    await restarted.refresh(force=True)
    assert first_choice(restarted, TaskNeeds("fact_check", 500)) == "backup"


async def test_no_eligible_model_is_a_clear_task_failure(
    routed_settings: Callable[..., Settings], servers: Servers
) -> None:
    small = {"context_tokens": 1024}
    resources = Resources(routed_settings(primary=small, backup=small))
    with pytest.raises(
        TaskFailed, match=r"no model can take it: primary: context 1024 < \d+; backup: context"
    ):
        await run_task("fact_check", resources, prompt() + " padding" * 400, VerdictOutput, Budget(10**6))
    for server in servers.values():
        server.faults["VerdictOutput"] = Fault("http", 99, 500)
    cooling = Resources(routed_settings({"breaker_failures": 1}))
    with pytest.raises(TaskFailed, match="request failed"):
        await run_task("fact_check", cooling, prompt(1), VerdictOutput, Budget(10**6))
    with pytest.raises(
        TaskFailed, match="primary: cooling down after repeated failures; backup: cooling down"
    ):
        await run_task("fact_check", cooling, prompt(2), VerdictOutput, Budget(10**6))
    assert len(servers["primary"].requests) == 1 and len(servers["backup"].requests) == 1
