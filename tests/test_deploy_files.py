"""deploy/: what can be checked without a container runtime or a systemd to start.

Images cannot be built on this machine (no registry for the base images), so the Dockerfile's own install steps
are run outside a container, in a clean virtualenv standing for the image's Python, with its container paths
mapped into a temporary directory; the image's command and HEALTHCHECK then run against what they installed.
compose.yaml is read as YAML; the systemd unit goes through `systemd-analyze verify`. Every DELIVRD_* variable
they set must be a real setting (`delivrd.config`), and every flag a real flag of `delivrd serve`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml

from bench.process import wait_healthy
from delivrd.cli.main import parser
from delivrd.config import OPTIONS, variable
from delivrd.option_types import postgres_url
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
VARIABLES = {variable(name) for name in OPTIONS}
SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in dockerfile.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip().removesuffix("\\") + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            logical.append(pending.strip())
            pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def stages(dockerfile: Path) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions(dockerfile):
        if instruction[0] == "FROM":
            found.append([])
        found[-1].append(instruction)
    return found


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in stage:
        if instruction == "ENV":
            env.update(word.split("=", 1) for word in shlex.split(args))
    return env


def names_in_env_file(path: Path) -> set[str]:
    """The variables an env file sets, including those shown commented out as options."""
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", path.read_text(), re.MULTILINE))


def test_the_dockerfile_builds_from_a_slim_python_and_runs_unprivileged_with_data_in_a_volume():
    build, final = stages(DEPLOY / "Dockerfile")
    assert re.fullmatch(r"python:3\.\d+-slim AS build", build[0][1])
    assert re.fullmatch(r"python:3\.\d+-slim", final[0][1])
    said = dict(final)
    assert said["USER"] not in ("root", "0")
    assert said["VOLUME"] == "/data"
    assert env_of(final)["DELIVRD_DB"].startswith("/data/")
    assert "/healthz" in said["HEALTHCHECK"]
    for instruction, args in build:
        if instruction == "COPY":
            *sources, _ = args.split()
            assert all((ROOT / source).exists() for source in sources), args
    assert {name for name in env_of(final) if name.startswith("DELIVRD_")} <= VARIABLES


def test_the_dockerfiles_install_steps_run_and_what_they_install_serves_and_is_healthy(tmp_path):
    """Each stage's WORKDIR and COPY destinations become directories under tmp_path; RUN runs there with the
    clean virtualenv's pip first on PATH. Creating the user is the one step left out: it changes the machine."""
    python = tmp_path / "python"  # the image's Python: nothing but pip
    venv.create(python, with_pip=True)
    path = f"{python / 'bin'}{os.pathsep}{os.environ['PATH']}"
    roots: dict[str, Path] = {}
    skipped: list[str] = []
    final: list[tuple[str, str]] = []
    for stage in stages(DEPLOY / "Dockerfile"):
        name = stage[0][1].split(" AS ")[-1] if " AS " in stage[0][1] else "final"
        root = roots[name] = tmp_path / name
        final = stage
        mapped: dict[str, Path] = {}
        workdir = root
        for instruction, args in stage[1:]:
            if instruction == "WORKDIR":
                workdir = mapped[args] = root / args.lstrip("/")
                workdir.mkdir(parents=True, exist_ok=True)
            elif instruction == "COPY":
                words = args.split()
                origin = ROOT
                if words[0].startswith("--from="):
                    origin = roots[words.pop(0).removeprefix("--from=")]
                *sources, dest = words
                target = workdir / dest if not dest.startswith("/") else root / dest.lstrip("/")
                if dest.startswith("/"):
                    mapped[dest] = target
                for source in sources:
                    there = origin / source.lstrip("/")
                    into = target / there.name if dest.endswith("/") else target
                    if there.is_dir():
                        shutil.copytree(there, into, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
                    else:
                        into.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy(there, into)
            elif instruction == "RUN":
                if args.startswith("useradd"):
                    skipped.append(args)
                    continue
                command = args
                for container_path, here in sorted(mapped.items(), key=lambda item: -len(item[0])):
                    command = re.sub(rf"(?<![\w/.]){re.escape(container_path)}(?=[/\s]|$)", str(here), command)
                outside = [w for w in shlex.split(command) if w.startswith("/") and not w.startswith(str(tmp_path))]
                assert not outside, f"RUN {args}: container paths not mapped, not run on this machine: {outside}"
                done = subprocess.run(
                    ["bash", "-c", command], cwd=workdir, env={**os.environ, "PATH": path}, capture_output=True
                )
                assert done.returncode == 0, f"RUN {args}\n{done.stderr.decode(errors='replace')}"
    assert len(skipped) == 1 and "chown" in skipped[0]
    assert not (roots["final"] / "wheels").exists(), "the wheel is removed once installed"

    said = dict(final)
    command = shlex.split(said["CMD"].replace('["', "").replace('"]', "").replace('", "', " "))
    executable = python / "bin" / command[0]
    assert executable.exists(), f"the image's CMD {command[0]} is not installed by its RUN steps"
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DELIVRD_", "PYTHON"))}
    image_env = env_of(final)
    env.update(image_env, DELIVRD_DB=str(data / Path(image_env["DELIVRD_DB"]).name), PATH=path)
    env.update(DELIVRD_HOST="127.0.0.1", DELIVRD_PORT=str(port))  # this machine's loopback, not every address
    healthcheck = said["HEALTHCHECK"].split(" CMD ", 1)[1].replace(":8080/", f":{port}/")
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [executable, *command[1:]], cwd=data, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", log, timeout=30)
        assert subprocess.run(["sh", "-c", healthcheck], env=env, timeout=10).returncode == 0
        assert (data / "delivrd.db").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    unhealthy = subprocess.run(["sh", "-c", healthcheck], env=env, timeout=10, capture_output=True)
    assert unhealthy.returncode != 0


def test_compose_runs_delivrd_on_postgresql_with_real_settings_and_secrets_from_the_env_file():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "delivrd"}
    delivrd = services["delivrd"]
    assert (DEPLOY / delivrd["build"]["context"] / delivrd["build"]["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert delivrd["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgres"]
    env = delivrd["environment"]
    assert {name for name in env if name.startswith("DELIVRD_")} <= VARIABLES
    url = env["DELIVRD_DATABASE_URL"]
    assert postgres_url(url) and "@postgres:" in url and ":" not in url.split("@")[0].removeprefix("postgresql://")
    # every secret is interpolated from the env file, which compose.env.example shows, and never written here
    interpolated = set(re.findall(r"\$\{(\w+):\?", (DEPLOY / "compose.yaml").read_text()))
    assert interpolated == names_in_env_file(DEPLOY / "compose.env.example")
    assert {"DELIVRD_API_KEY", "DELIVRD_CALLBACK_TOKEN"} <= interpolated
    assert all(str(env[name]).startswith("${") for name in ("DELIVRD_API_KEY", "DELIVRD_CALLBACK_TOKEN"))


def test_the_env_file_examples_name_real_settings():
    for example in ("compose.env.example", "systemd.env.example"):
        names = names_in_env_file(DEPLOY / example)
        assert {name for name in names if name.startswith("DELIVRD_")} <= VARIABLES, example


def unit(path: Path) -> dict[str, list[str]]:
    """The unit's keys, each with every value it is given (a key may repeat)."""
    keys: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            keys.setdefault(key, []).append(value)
    return keys


def test_the_systemd_unit_runs_serve_with_real_flags_sandboxed_and_its_secrets_in_a_file():
    keys = unit(DEPLOY / "delivrd.service")
    (exec_start,) = keys["ExecStart"]
    argv = shlex.split(exec_start.replace("${STATE_DIRECTORY}", "/var/lib/delivrd"))
    assert argv[0].endswith("/bin/delivrd") and argv[1] == "serve"
    args = parser().parse_args(argv[1:])  # an unknown flag exits here
    assert args.db == "/var/lib/delivrd/delivrd.db"
    assert not {"--api-key", "--callback-token", "--database-url"} & set(argv), "secrets go in the EnvironmentFile"
    assert keys["EnvironmentFile"] and names_in_env_file(DEPLOY / "systemd.env.example") >= {"DELIVRD_API_KEY"}
    for key, value in {
        "DynamicUser": "yes",
        "StateDirectory": "delivrd",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert keys[key] == [value], key
    assert set(keys["RestrictAddressFamilies"][0].split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    # the stop timeout outlasts the drain that SIGTERM starts
    assert int(keys["TimeoutStopSec"][0]) > float(OPTIONS["drain_timeout"].default or 0)


def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    if not Path(SYSTEMD_ANALYZE).exists():
        pytest.skip(f"{SYSTEMD_ANALYZE} is not installed (Debian's systemd package)")
    # verify checks that ExecStart's program exists: point it at this delivrd rather than /opt/delivrd's
    here = Path(sys.executable).parent / "delivrd"
    copy = tmp_path / "delivrd.service"
    copy.write_text((DEPLOY / "delivrd.service").read_text().replace("/opt/delivrd/bin/delivrd", str(here)))
    done = subprocess.run([SYSTEMD_ANALYZE, "verify", copy], capture_output=True, text=True, timeout=60)
    if done.returncode != 0 and "Failed to initialize manager" in done.stderr:
        pytest.skip(f"systemd-analyze cannot run in this sandbox: {done.stderr.strip()}")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
