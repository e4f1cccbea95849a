"""The alerting rules and where they go: promtool accepts the rules and the Prometheus config
that loads them, every rule passes its unit tests (deploy/prometheus/alerts.test.yml), every
alert has a warning or critical severity, a summary, a description and tests on both sides of
its thresholds, and Alertmanager pages Discord with the webhook URL from .env.

promtool comes with the Debian package `prometheus`, amtool with `prometheus-alertmanager`.
Without them these tests skip, unless
AUTOINTEL_TEST_REQUIRE_SERVICES=1 (set by .ci/run, which installs it), which makes them fail.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from conftest import service_unavailable

ROOT = Path(__file__).parent.parent.parent
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus.yml"
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _alert_rules() -> list[dict[str, Any]]:
    return [rule for group in _load(RULES)["groups"] for rule in group["rules"] if "alert" in rule]


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool in the repository root (skip or fail when it is not installed)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        service_unavailable("promtool", "not on PATH; `apt-get install prometheus` provides it")
    return subprocess.run(
        [str(promtool), *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_promtool_accepts_the_prometheus_config_and_its_rules() -> None:
    checked = _promtool("check", "config", str(PROMETHEUS_CONFIG.relative_to(ROOT)))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "alerts.yml" in checked.stdout  # the config's rule_files found the rules


def test_every_rule_passes_its_unit_tests() -> None:
    tested = _promtool("test", "rules", str(RULE_TESTS.relative_to(ROOT)))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_is_described_and_tested_firing_and_silent() -> None:
    fired: set[tuple[str, str]] = set()
    silent: set[str] = set()
    for case in _load(RULE_TESTS)["tests"]:
        for check in case["alert_rule_test"]:
            if not check["exp_alerts"]:
                silent.add(check["alertname"])
            fired |= {(check["alertname"], alert["exp_labels"]["severity"]) for alert in check["exp_alerts"]}
    for rule in _alert_rules():
        name, severity = rule["alert"], rule["labels"]["severity"]
        assert severity in ("warning", "critical"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        assert (name, severity) in fired, f"no unit test sees {name} fire at {severity}"
        assert name in silent, f"no unit test checks that {name} stays silent"


def test_prometheus_loads_the_rules_where_compose_mounts_them_and_alerts_alertmanager() -> None:
    config = _load(PROMETHEUS_CONFIG)
    mounts = COMPOSE["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts
    for rule_file in config["rule_files"]:  # relative to the config file, here and in the container
        assert (PROMETHEUS_CONFIG.parent / rule_file).resolve() == RULES
        assert f"./deploy/{rule_file}:/etc/prometheus/{rule_file}:ro" in mounts
    [alertmanagers] = config["alerting"]["alertmanagers"]
    assert alertmanagers["static_configs"] == [{"targets": ["alertmanager:9093"]}]


def test_alertmanager_pages_discord_with_the_webhook_url_from_env() -> None:
    service = COMPOSE["services"]["alertmanager"]
    assert (
        "./deploy/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro" in service["volumes"]
    )
    assert "healthcheck" in service and "alertmanager-data:/alertmanager" in service["volumes"]
    [secret] = service["secrets"]
    assert COMPOSE["secrets"][secret] == {"environment": "ALERTMANAGER_DISCORD_WEBHOOK_URL"}
    assert "\nALERTMANAGER_DISCORD_WEBHOOK_URL=\n" in (ROOT / ".env.example").read_text()  # blank

    config = _load(ALERTMANAGER_CONFIG)
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    routed = [config["route"], *config["route"].get("routes", [])]
    assert {route["receiver"] for route in routed if "receiver" in route} == {"discord"}
    [discord] = receivers["discord"]["discord_configs"]
    assert discord == {"webhook_url_file": f"/run/secrets/{secret}", "send_resolved": True}
    [inhibit] = config["inhibit_rules"]
    assert inhibit["source_matchers"] == ['severity="critical"']
    assert inhibit["target_matchers"] == ['severity="warning"']
    # A warning is muted by its own critical twin only: same name and every label alerts carry.
    labels = {
        label
        for case in _load(RULE_TESTS)["tests"]
        for check in case["alert_rule_test"]
        for alert in check["exp_alerts"]
        for label in alert["exp_labels"]
    }
    assert labels - {"severity"} <= set(inhibit["equal"]) - {"alertname"}
    assert "alertname" in inhibit["equal"]


def test_amtool_accepts_the_alertmanager_config(tmp_path: Path) -> None:
    amtool = shutil.which("amtool") or ""
    if not amtool:
        service_unavailable("amtool", "not on PATH; `apt-get install prometheus-alertmanager` provides it")
    # Debian's amtool (0.25) predates Discord's `webhook_url_file` (0.26): check everything else
    # with the URL inline; the file wiring itself is checked by the structure test above.
    text = ALERTMANAGER_CONFIG.read_text()
    inline = "webhook_url: https://discord.com/api/webhooks/1/placeholder"
    checked_copy = tmp_path / "alertmanager.yml"
    checked_copy.write_text(re.sub(r"webhook_url_file: \S+", inline, text))
    checked = subprocess.run(
        [amtool, "check-config", str(checked_copy)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
