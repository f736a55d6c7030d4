"""docker-compose.yml is valid for Debian's docker-compose, and .env.example lists every variable
the settings read (found by parsing the source, so a new setting cannot be forgotten)."""

import ast
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
# Where environment variables are read: settings (through registry_ui/env.py's helpers), gunicorn's
# conf, and the project modules (metrics reads PROMETHEUS_MULTIPROC_DIR).
SOURCES = sorted((REPO_ROOT / "registry_ui").glob("*.py"))
ENV_HELPERS = {"env_str", "env_bool", "env_int", "env_choice", "env_list", "env_networks", "env_secret"}


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_os_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name)


def variables_read(source: str) -> set[str]:
    """Names passed to env_* helpers, os.environ.get / os.getenv, or os.environ[...] reads."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args:
            name = _string(node.args[0])
            function = node.func
            if name is None:
                continue
            if isinstance(function, ast.Name) and function.id in ENV_HELPERS:
                names.add(name)
                if function.id == "env_secret":
                    names.add(f"{name}_FILE")
            elif isinstance(function, ast.Attribute) and (
                (function.attr == "get" and _is_os_environ(function.value)) or function.attr == "getenv"
            ):
                names.add(name)
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value) and isinstance(node.ctx, ast.Load):
            name = _string(node.slice)
            if name is not None:
                names.add(name)
    return names


def listed_in_env_example() -> set[str]:
    lines = (REPO_ROOT / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0].strip() for line in lines if "=" in line and not line.lstrip().startswith("#")}


def test_the_parser_finds_each_way_of_reading_a_variable() -> None:
    source = (
        'env_str("A")\nenv_secret("B", "")\nos.environ.get("C")\nos.environ["D"]\nos.getenv("E")\n'
        'os.environ.setdefault("NOT_READ", "x")\nos.environ["NOT_READ_EITHER"] = "y"\n'
    )

    assert variables_read(source) == {"A", "B", "B_FILE", "C", "D", "E"}


def test_every_variable_the_settings_read_is_in_env_example() -> None:
    read = set().union(*(variables_read(path.read_text()) for path in SOURCES))

    assert {"DATABASE_URL", "REGISTRY_ACCEL_REDIRECT_PREFIX", "WEB_CONCURRENCY"} <= read
    assert read - listed_in_env_example() == set()


def test_docker_compose_config_accepts_the_file_with_an_env_made_from_the_example(tmp_path: Path) -> None:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is missing: scripts/test installs Debian's docker-compose package")
    shutil.copy(REPO_ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    example = (REPO_ROOT / ".env.example").read_text()
    # The two secrets an operator must fill in; the rest of the example is usable as it is.
    (tmp_path / ".env").write_text(
        example.replace("\nPOSTGRES_PASSWORD=\n", "\nPOSTGRES_PASSWORD=example-password\n").replace(
            "\nSECRET_KEY=\n", "\nSECRET_KEY=example-secret-key\n"
        )
    )

    checked = subprocess.run(["docker-compose", "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert checked.returncode == 0, checked.stderr
    config = checked.stdout
    for service in ("postgres:", "redis:", "web:", "worker:", "beat:", "nginx:", "seaweedfs:"):
        assert f"\n  {service}\n" in config
    assert config.count("restart: always") == 7
    assert config.count("healthcheck:") == 7
    assert "condition: service_healthy" in config
    assert "DATABASE_URL: postgres://harbor:example-password@postgres:5432/harbor" in config


def test_docker_compose_refuses_to_start_without_the_secrets(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(REPO_ROOT / ".env.example", tmp_path / ".env")

    checked = subprocess.run(["docker-compose", "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert checked.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in checked.stderr or "set SECRET_KEY in .env" in checked.stderr


def _env_from_the_example(folder: Path, extra: str = "") -> None:
    """docker-compose.yml, docker-compose.s3.yml and an .env made from the example (the two
    secrets an operator must fill in, and `extra` lines) in `folder`."""
    for name in ("docker-compose.yml", "docker-compose.s3.yml"):
        shutil.copy(REPO_ROOT / name, folder / name)
    example = (REPO_ROOT / ".env.example").read_text()
    (folder / ".env").write_text(
        example.replace("\nPOSTGRES_PASSWORD=\n", "\nPOSTGRES_PASSWORD=example-password\n").replace(
            "\nSECRET_KEY=\n", "\nSECRET_KEY=example-secret-key\n"
        )
        + extra
    )


def _compose_config(folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker-compose", *arguments, "config"], cwd=folder, capture_output=True, text=True, timeout=60
    )


def test_seaweedfs_runs_only_under_the_s3_profile(tmp_path: Path) -> None:
    _env_from_the_example(tmp_path)

    checked = _compose_config(tmp_path)

    # docker-compose 1.29's `config` lists every service; `up` starts those of no profile, and
    # those of the profiles COMPOSE_PROFILES (or --profile) names.
    assert checked.returncode == 0, checked.stderr
    services = yaml.safe_load(checked.stdout)["services"]
    assert {name for name, service in services.items() if "profiles" in service} == {"seaweedfs"}
    seaweedfs = services["seaweedfs"]
    assert seaweedfs["profiles"] == ["s3"]
    assert seaweedfs["image"].startswith("chrislusf/seaweedfs:")
    assert seaweedfs["healthcheck"]["test"][-1] == "http://127.0.0.1:8333/healthz"


def test_the_s3_override_runs_two_web_nodes_on_one_bucket_behind_nginx(tmp_path: Path) -> None:
    _env_from_the_example(
        tmp_path,
        "COMPOSE_FILE=docker-compose.yml:docker-compose.s3.yml\nCOMPOSE_PROFILES=s3\n"
        "AWS_ACCESS_KEY_ID=registry\nAWS_SECRET_ACCESS_KEY=bucket-secret\n",
    )

    checked = _compose_config(tmp_path)

    assert checked.returncode == 0, checked.stderr
    services = yaml.safe_load(checked.stdout)["services"]
    assert {"seaweedfs", "bucket", "web", "web-2", "worker", "beat", "nginx"} <= set(services)
    for name in ("web", "web-2", "worker", "beat"):
        environment = services[name]["environment"]
        assert environment["REGISTRY_STORAGE"] == "s3"
        assert environment["REGISTRY_S3_BUCKET"] == "registry"
        assert environment["AWS_ENDPOINT_URL_S3"] == "http://seaweedfs:8333"
        assert environment["AWS_SECRET_ACCESS_KEY"] == "bucket-secret"
        # The settings refuse X-Accel-Redirect with blobs in a bucket.
        assert environment["REGISTRY_ACCEL_REDIRECT_PREFIX"] == ""
    # What the nodes share, and what only the first does.
    web, web_2 = services["web"], services["web-2"]
    for shared in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "REGISTRY_SIGNING_KEY_DIR"):
        assert web_2["environment"][shared] == web["environment"][shared]
    assert "keys:/var/lib/harbor-lite/keys:rw" in web_2["volumes"]
    assert "migrate" in " ".join(web["command"]) and "migrate" not in " ".join(web_2["command"])
    assert web_2["networks"]["default"]["aliases"] == ["web"]
    # Prometheus scrapes each node by a name only it answers to: `web` reaches either node.
    assert web["networks"]["default"]["aliases"] == ["web-1"]
    assert web["depends_on"]["bucket"] == {"condition": "service_completed_successfully"}
    assert services["bucket"]["profiles"] == ["s3"]
    assert services["bucket"]["depends_on"]["seaweedfs"] == {"condition": "service_healthy"}
    assert services["nginx"]["depends_on"]["web-2"] == {"condition": "service_healthy"}
    assert services["seaweedfs"]["environment"]["AWS_ACCESS_KEY_ID"] == "registry"


def test_the_s3_override_refuses_to_start_without_the_buckets_credentials(tmp_path: Path) -> None:
    _env_from_the_example(tmp_path)

    checked = _compose_config(tmp_path, "-f", "docker-compose.yml", "-f", "docker-compose.s3.yml", "--profile", "s3")

    assert checked.returncode != 0
    assert "set AWS_ACCESS_KEY_ID in .env" in checked.stderr
