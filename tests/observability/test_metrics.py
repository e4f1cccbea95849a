"""Metrics move across a real run (scripted model server), and the dashboard and the alerting
rules only use metrics that exist."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import observability.metrics as metrics
from fakes.openai_server import ScriptedOpenAI, point_settings_at
from fakes.scripted_flow import REPLIES, run_flow
from pipelines.models import Depth
from settings import Settings

ROOT = Path(__file__).parent.parent.parent


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedOpenAI]:
    server = ScriptedOpenAI(replies=dict(REPLIES))
    point_settings_at(server.start_in_thread(), monkeypatch.setenv)
    yield server
    server.stop_thread()


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_run_moves_the_run_stage_model_memory_and_transcription_metrics(
    scripted: ScriptedOpenAI, make_settings: Callable[..., Settings]
) -> None:
    watched = {
        "started": ("autointel_runs_started_total", {"depth": "standard"}),
        "finished": ("autointel_runs_finished_total", {"depth": "standard", "outcome": "succeeded"}),
        "run_seconds": ("autointel_run_duration_seconds_count", {"depth": "standard"}),
        "transcribe": (
            "autointel_stage_duration_seconds_count",
            {"stage": "transcribe", "outcome": "succeeded"},
        ),
        "verify": ("autointel_stage_duration_seconds_count", {"stage": "verify", "outcome": "succeeded"}),
        "llm_ok": (
            "autointel_llm_requests_total",
            {"model": "scripted", "task": "fact_check", "outcome": "ok"},
        ),
        "prompt_tokens": (
            "autointel_llm_tokens_total",
            {"model": "scripted", "task": "summary", "kind": "prompt"},
        ),
        "upserts": ("autointel_memory_operations_total", {"operation": "upsert", "outcome": "ok"}),
        "searches": ("autointel_memory_operations_total", {"operation": "search", "outcome": "ok"}),
        "rtf": ("autointel_transcription_realtime_factor_count", {}),
        "queue_wait": ("autointel_queue_wait_seconds_count", {}),
    }
    before = {key: _value(name, **labels) for key, (name, labels) in watched.items()}
    result = await run_flow(make_settings(), Depth.STANDARD)
    assert result.run.status == "succeeded"
    after = {key: _value(name, **labels) for key, (name, labels) in watched.items()}
    moved = {key: after[key] - before[key] for key in watched}
    assert moved["started"] == 1 and moved["finished"] == 1 and moved["run_seconds"] == 1
    assert (
        moved["transcribe"] == 1 and moved["verify"] == 1 and moved["rtf"] == 1 and moved["queue_wait"] == 1
    )
    assert moved["llm_ok"] == 3  # one verdict per checked claim
    assert moved["prompt_tokens"] > 50
    assert moved["upserts"] >= 1 and moved["searches"] >= 3


def _declared() -> set[str]:
    from prometheus_client.metrics import MetricWrapperBase

    names = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            names |= {family.name for family in value.describe()}
    return names


def _undeclared(exprs: list[str]) -> list[str]:
    """The AutoIntel metric names in these PromQL expressions that metrics.py does not declare."""
    declared = _declared()
    used = {name for expr in exprs for name in re.findall(r"\b(autointel_[a-z_]+)", expr)}
    return sorted(
        name for name in used if re.sub(r"_(total|bucket|count|sum|created)$", "", name) not in declared
    )


def test_the_dashboard_uses_only_declared_metrics() -> None:
    for path in (ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"):
        dashboard = json.loads(path.read_text())
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        assert exprs, f"{path.name} has no queries"
        assert not _undeclared(exprs), f"{path.name} uses undeclared metrics {_undeclared(exprs)}"


def test_the_alert_rules_and_their_unit_tests_use_only_declared_metrics() -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    tests = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.test.yml").read_text())
    series = [item["series"] for test in tests["tests"] for item in test["input_series"]]
    assert exprs and series
    assert not _undeclared(exprs), f"alerts.yml uses undeclared metrics {_undeclared(exprs)}"
    assert not _undeclared(series), f"alerts.test.yml feeds undeclared metrics {_undeclared(series)}"
