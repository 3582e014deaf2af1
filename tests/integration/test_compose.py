"""No Docker engine runs here: check that compose.yaml agrees with the CLI and Settings."""

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from vendor_risk.cli import build_parser
from vendor_risk.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def test_services_exist_with_health_checks() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "api", "worker", "mailpit"} <= set(services)
    for name in ("postgres", "redis", "mailpit", "api", "worker"):
        assert "healthcheck" in services[name], name
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_commands_parse_with_the_cli() -> None:
    parser = build_parser()
    for name in ("migrate", "api", "worker"):
        command = compose()["services"][name]["command"]
        assert command[0] == "vendor-risk"
        parser.parse_args(command[1:])
    parser.parse_args(compose()["services"]["worker"]["healthcheck"]["test"][2:])


def test_environment_is_valid_settings() -> None:
    for name in ("migrate", "api", "worker"):
        env = {k: str(v) for k, v in compose()["services"][name]["environment"].items()}
        # compose substitutes ${VAR:-default}; do the same for the check.
        env = {k: v.split(":-", 1)[1].rstrip("}") if v.startswith("${") else v for k, v in env.items()}
        settings = load_settings(env)
        assert settings.database_url
        assert settings.redis_url
        assert settings.current_data_key
        assert set(env) <= {f"VENDOR_RISK_{f.upper()}" for f in Settings.__struct_fields__}


def test_dockerfile_runs_non_root_and_serves() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.count("FROM ") >= 2
    assert "USER vendor-risk" in dockerfile
    cmd_line = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    args = yaml.safe_load(cmd_line.removeprefix("CMD "))
    build_parser().parse_args(args[1:])
    assert shlex.join(args).startswith("vendor-risk serve")


# The PostgreSQL client major version each Debian release ships as `postgresql-client`.
DEBIAN_CLIENT_MAJOR = {"bookworm": 15, "trixie": 17, "forky": 18}


def test_the_image_can_back_up_the_compose_database() -> None:
    """`vendor-risk backup` runs pg_dump in the image: the client must be installed, and
    no older than compose's server (pg_dump refuses a newer server)."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    runtime = dockerfile.split("\nFROM ")[-1]
    assert re.search(r"apt-get install[^\n]*\\?(\n\s+[^\n]*)*postgresql-client", runtime)
    release = re.match(r"python:[\d.]+-slim-(\w+)", runtime)
    assert release, "the runtime image names its Debian release, which decides the client's version"
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    server = int(compose["services"]["postgres"]["image"].split(":")[1].split(".")[0])
    assert DEBIAN_CLIENT_MAJOR[release.group(1)] >= server
