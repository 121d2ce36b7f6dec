"""A code server per code location, shared by the daemon, the webserver and the `dagster` CLI.

Given `workspace.yaml`'s modules, `dagster-daemon run` starts its own code servers and replaces them every
60 s (Dagster's RELOAD_WORKSPACE_INTERVAL, not configurable), each new one importing its location afresh:
~10 CPU seconds a minute on this machine, in bursts that slow the scoring runs they overlap. `code_servers`
instead starts one `dagster code-server start` per location, serving on a Unix socket, and yields a
workspace of those sockets: the daemon's periodic refresh then only asks the servers for their definitions,
and the UI's "Reload" reloads a server's code.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml

from orchestration.processes import start_process, stop_processes

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = REPO_ROOT / "workspace.yaml"
STARTUP_TIMEOUT_S = 300  # the batch location imports dbt and parses its manifest: ~10 s here, more when busy


class CodeServerError(RuntimeError):
    """A code location failed to load, or its server exited or did not answer in time."""


@contextlib.contextmanager
def code_servers(env: Mapping[str, str], workspace: Path = WORKSPACE) -> Iterator[Path]:
    """Start a code server for every `python_module` location of `workspace`, in `env` (the settings the
    definitions read), wait until all answer, and yield a workspace file that points at them; stop them on
    exit. Each server's output goes to `code_servers/<location>.log` in DAGSTER_HOME."""
    locations = [entry["python_module"] for entry in yaml.safe_load(workspace.read_text())["load_from"]]
    _create_instance(env["DAGSTER_HOME"])
    folder = Path(tempfile.mkdtemp(prefix="playcast-code-"))  # short: a socket's path has at most 107 bytes
    logs = Path(env["DAGSTER_HOME"]) / "code_servers"
    logs.mkdir(parents=True, exist_ok=True)
    servers: list[subprocess.Popen] = []
    try:
        entries = []
        for location in locations:
            name, socket = location["location_name"], folder / f"{location['location_name']}.sock"
            command = [Path(sys.executable).parent / "dagster", "code-server", "start", "-s", socket,
                       "-m", location["module_name"], "--location-name", name,
                       "-d", workspace.parent / location.get("working_directory", ".")]  # fmt: skip
            with open(logs / f"{name}.log", "w") as log:
                # in its own group: stopping the group stops the server it loads the code in too
                servers.append(start_process(
                    command, env=dict(env), cwd=workspace.parent, stdout=log, stderr=subprocess.STDOUT
                ))  # fmt: skip
            entries.append({"grpc_server": {"socket": str(socket), "location_name": name}})
        (folder / "workspace.yaml").write_text(yaml.safe_dump({"load_from": entries}))
        for server, entry in zip(servers, entries, strict=True):
            _wait_until_serving(server, entry["grpc_server"], logs)
        yield folder / "workspace.yaml"
    finally:
        stop_processes(servers)
        shutil.rmtree(folder, ignore_errors=True)


def _create_instance(home: str) -> None:
    """The instance's storage, before the servers open it: concurrent first opens race on its migration."""
    from dagster import DagsterInstance

    before = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = home  # playcast's instance settings name their folder through it
    try:
        DagsterInstance.from_config(home).dispose()
    finally:
        if before is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = before


def _wait_until_serving(server: subprocess.Popen, address: dict, logs: Path) -> None:
    """Until the server answers (it listens once it has tried to load its code); raises if the code failed
    to load (the server would go on serving the error to the UI) or the server exited or never answered."""
    from dagster._grpc.client import DagsterGrpcClient  # dagster's own client and types (pinned to 1.13.x)
    from dagster._serdes import deserialize_value
    from dagster._utils.error import SerializableErrorInfo

    client, name = DagsterGrpcClient(socket=address["socket"]), address["location_name"]
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while (answer := _list_repositories(client)) is None:
        log = _tail(logs / f"{name}.log")
        if server.poll() is not None:
            raise CodeServerError(f"code server for {name} exited with {server.returncode}:\n{log}")
        if time.monotonic() > deadline:
            raise CodeServerError(f"code server for {name} not up after {STARTUP_TIMEOUT_S} s:\n{log}")
        time.sleep(0.2)
    loaded = deserialize_value(answer)
    if isinstance(loaded, SerializableErrorInfo):
        raise CodeServerError(f"code location {name} failed to load:\n{loaded.to_string()}")


def _list_repositories(client) -> str | None:
    """The server's serialized repositories (or load error); None while it is not listening."""
    try:
        return client.list_repositories()
    except Exception:
        return None


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
