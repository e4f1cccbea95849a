"""The compose stack and the image, checked statically (no Docker engine here): every service the
README names exists, every variable it uses is in .env.example, images are pinned, ports are
bound to 127.0.0.1, stateful services have named volumes and healthchecks, workers get a GPU,
and the internal SearxNG answers JSON to the bot and workers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
REQUIRED = {
    "bot",
    "worker",
    "postgres",
    "redis",
    "qdrant",
    "vllm",
    "llamacpp",
    "searxng",
    "prometheus",
    "alertmanager",
    "grafana",
}
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)")


def _env_example() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            names.add(line.split("=", 1)[0].strip())
    return names


def test_the_services_the_readme_names_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Docker", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z]+)`", section)) & (REQUIRED | {"migrate", "cli"})
    assert REQUIRED <= named
    assert named <= set(SERVICES)


def test_every_variable_is_documented_in_env_example() -> None:
    used = set(VARIABLE.findall((ROOT / "docker-compose.yml").read_text()))
    used |= {
        secret["environment"] for secret in COMPOSE.get("secrets", {}).values() if "environment" in secret
    }
    for service in SERVICES.values():
        environment = service.get("environment") or {}
        used |= {
            name
            for name in environment
            if name.isupper() and not name.startswith(("GF_", "QDRANT__", "HF_HOME"))
        }
    missing = used - _env_example() - {"POSTGRES_USER", "POSTGRES_DB"}
    assert not missing, f"not in .env.example: {sorted(missing)}"


def test_images_are_pinned_and_ports_are_local() -> None:
    for name, service in SERVICES.items():
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: unpinned image {image!r}"
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: port {port} is not bound to 127.0.0.1"


def test_state_lives_in_named_volumes_with_healthchecks() -> None:
    declared = set(COMPOSE["volumes"])
    for name in ("postgres", "redis", "qdrant"):
        assert "healthcheck" in SERVICES[name], f"{name} has no healthcheck"
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            assert source.startswith("./") or source in declared, f"{name}: undeclared volume {source}"
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} is missing"


def test_workers_and_vllm_reserve_a_gpu_and_start_after_migrations() -> None:
    for name in ("worker", "vllm"):
        devices = SERVICES[name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["capabilities"] == ["gpu"]
    assert SERVICES["worker"]["command"] == ["worker"] and SERVICES["bot"]["command"] == ["bot"]
    for name in ("bot", "worker"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert SERVICES["migrate"]["command"] == ["db", "upgrade"]


def test_dockerfile_is_multi_stage_and_non_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.count("\nFROM ") + dockerfile.startswith("FROM ") >= 2
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)


def test_searxng_is_internal_pinned_and_answers_json() -> None:
    searxng = SERVICES["searxng"]
    image, _, tag = searxng["image"].partition(":")
    assert image == "searxng/searxng" and re.fullmatch(r"20\d\d\.\d+\.\d+-[0-9a-f]{9}", tag), tag
    assert "ports" not in searxng  # reached only over the compose network
    mount = "./deploy/searxng/settings.yml:/etc/searxng/settings.yml:ro"
    assert mount in searxng["volumes"]
    assert searxng["environment"]["SEARXNG_SECRET"].startswith("${SEARXNG_SECRET:?")  # no default key
    settings = yaml.safe_load((ROOT / "deploy" / "searxng" / "settings.yml").read_text())
    assert settings["use_default_settings"] is True
    assert "json" in settings["search"]["formats"] and settings["server"]["limiter"] is False
    assert "secret_key" not in settings["server"]  # it comes from SEARXNG_SECRET
    for name in ("bot", "worker"):
        environment = SERVICES[name]["environment"]
        assert environment["SEARXNG_URL"] == "http://searxng:8080"
        assert environment["EVIDENCE_SOURCES"].split(",") == ["memory", "searxng", "wikipedia"]
        assert SERVICES[name]["depends_on"]["searxng"]["condition"] == "service_started"
