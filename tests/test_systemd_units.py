"""Tests for the shipped systemd units and the example configuration file."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from registry.config import Config, load_config, read_toml

SYSTEMD = Path(__file__).resolve().parents[1] / "systemd"
SERVICE = SYSTEMD / "gnn-registry.service"
TEMPLATE = SYSTEMD / "gnn-registry@.service"
EXAMPLE = SYSTEMD / "gnn-registry.toml"
UNITS = (SERVICE, TEMPLATE)

HARDENING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "read-only",
    "PrivateTmp": "yes", "PrivateDevices": "yes", "PrivateNetwork": "yes",
    "RestrictAddressFamilies": "AF_UNIX", "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
    "ProtectClock": "yes", "ProtectHostname": "yes", "ProtectProc": "invisible",
    "RestrictNamespaces": "yes", "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native", "SystemCallErrorNumber": "EPERM",
    "CapabilityBoundingSet": "", "AmbientCapabilities": "", "UMask": "0027",
}


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections of a unit file, each mapping a directive to all its values in order."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}:{number}: directive outside a section"
        assert "=" in line, f"{path.name}:{number}: not KEY=VALUE: {line!r}"
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def last(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    """The effective (last) value of ``key`` in ``section``."""
    values = unit.get(section, {}).get(key)
    assert values, f"[{section}] {key}= is missing"
    return values[-1]


@pytest.fixture(name="console_script")
def _console_script() -> str:
    """An executable to stand in for gnn-registryd (the real script when installed)."""
    candidate = Path(sys.executable).parent / "gnn-registryd"
    return str(candidate if candidate.exists() else Path(sys.executable))


def installable_copy(unit: Path, directory: Path, executable: str, name: str) -> Path:
    """A copy of ``unit`` named ``name`` in ``directory`` with ExecStart's binary replaced."""
    text = unit.read_text(encoding="utf-8")
    text, count = re.subn(r"^ExecStart=\S+", f"ExecStart={executable}", text, flags=re.M)
    assert count == 1
    target = directory / name
    target.write_text(text, encoding="utf-8")
    return target


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
class TestUnitDirectives:
    def test_notify_service_lifecycle(self, path):
        """The unit is Type=notify with reload, watchdog, restart and timeouts configured."""
        unit = parse_unit(path)
        assert last(unit, "Service", "Type") == "notify"
        assert last(unit, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
        assert last(unit, "Service", "WatchdogSec") == "30"
        assert last(unit, "Service", "Restart") == "on-failure"
        assert last(unit, "Service", "RestartSec") == "2"
        assert int(last(unit, "Service", "TimeoutStartSec")) >= 120
        assert last(unit, "Service", "TimeoutStopSec") == "30"
        assert int(last(unit, "Unit", "StartLimitBurst")) > 0
        assert int(last(unit, "Unit", "StartLimitIntervalSec")) > 0
        assert int(last(unit, "Service", "LimitNOFILE")) >= 1024
        assert last(unit, "Install", "WantedBy") == "multi-user.target"

    def test_exec_start_runs_the_daemon_with_a_config(self, path):
        """ExecStart runs gnn-registryd with --config under /etc/gnn-registry."""
        exec_start = last(parse_unit(path), "Service", "ExecStart").split()
        assert Path(exec_start[0]).name == "gnn-registryd"
        assert exec_start[1] == "--config"
        assert exec_start[2].startswith("/etc/gnn-registry/")

    def test_state_directory_holds_the_registry(self, path):
        """The registry output dir is the unit's StateDirectory under %S."""
        unit = parse_unit(path)
        state = last(unit, "Service", "StateDirectory")
        env = unit["Service"]["Environment"]
        assert f"GNN_REGISTRY_OUTPUT_DIR=%S/{state}" in env

    def test_hardening(self, path):
        """Every hardening directive of the brief is set to its expected value."""
        unit = parse_unit(path)
        for key, expected in HARDENING.items():
            assert last(unit, "Service", key) == expected, key
        filters = unit["Service"]["SystemCallFilter"]
        assert filters[0] == "@system-service"
        assert all(f.startswith("~") for f in filters[1:])

    def test_runs_as_an_unprivileged_user(self, path):
        """The service never runs as root and only reads the watched directories."""
        unit = parse_unit(path)
        user = unit["Service"].get("User", ["root"])[-1]
        dynamic = unit["Service"].get("DynamicUser", ["no"])[-1]
        assert user not in ("root", "0") or dynamic == "yes"
        assert unit["Service"].get("ReadOnlyPaths")
        assert "ReadWritePaths" not in unit["Service"]


class TestTemplate:
    def test_instance_names_config_and_state(self):
        """The template derives its config, state directory and identifier from %i."""
        unit = parse_unit(TEMPLATE)
        assert "/etc/gnn-registry/%i.toml" in last(unit, "Service", "ExecStart")
        assert last(unit, "Service", "StateDirectory") == "gnn-registry/%i"
        assert "%i" in last(unit, "Service", "SyslogIdentifier")

    def test_same_directives_as_the_plain_unit(self):
        """The template differs from the plain unit only in instance-specific values."""
        plain, template = parse_unit(SERVICE), parse_unit(TEMPLATE)
        assert {s: set(d) for s, d in plain.items()} == {s: set(d) for s, d in template.items()}


class TestExampleConfig:
    def test_loads_as_a_config(self):
        """The example file is valid TOML that registry.config accepts."""
        values = read_toml(EXAMPLE)
        assert Config(**values).directories

    def test_every_setting_is_documented_with_its_default(self):
        """Each Config field appears in the example; commented values equal the defaults."""
        text = EXAMPLE.read_text(encoding="utf-8")
        uncommented = "\n".join(re.sub(r"^# (\w+ = )", r"\1", line)
                                for line in text.splitlines())
        documented = tomllib.loads(uncommented)
        defaults = Config()
        examples_only = {"directories", "registry_path", "actor"}
        for field in dataclasses.fields(Config):
            assert field.name in documented, f"{field.name} is not in {EXAMPLE.name}"
            if field.name in examples_only:
                continue
            value = read_toml_value(field.name, documented[field.name])
            assert value == getattr(defaults, field.name), field.name


def read_toml_value(name: str, value: object) -> object:
    """``value`` coerced the way registry.config coerces a setting called ``name``."""
    return getattr(load_config(environ={}, overrides={name: value}), name)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed")
class TestSystemdAnalyze:
    @pytest.mark.parametrize(("unit", "name"), [(SERVICE, "gnn-registry.service"),
                                                (TEMPLATE, "gnn-registry@demo.service")])
    def test_verify(self, tmp_path, console_script, unit, name):
        """`systemd-analyze verify` accepts the unit without any warning about it."""
        copy = installable_copy(unit, tmp_path, console_script, name)
        result = subprocess.run(["systemd-analyze", "verify", str(copy)],
                                capture_output=True, text=True, timeout=120, check=False)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert name not in output, output

    def test_verify_catches_a_typo(self, tmp_path, console_script):
        """The verify check is real: a misspelt directive is reported."""
        copy = installable_copy(SERVICE, tmp_path, console_script, "gnn-registry.service")
        copy.write_text(copy.read_text().replace("WatchdogSec=", "WatchdogSecs="))
        result = subprocess.run(["systemd-analyze", "verify", str(copy)],
                                capture_output=True, text=True, timeout=120, check=False)
        assert "WatchdogSecs" in result.stdout + result.stderr

    def test_security_exposure_is_low(self, tmp_path, console_script):
        """`systemd-analyze security --offline` rates the unit's exposure at most 1.0."""
        copy = installable_copy(SERVICE, tmp_path, console_script, "gnn-registry.service")
        result = subprocess.run(
            ["systemd-analyze", "security", "--offline=true", "--no-pager", str(copy)],
            capture_output=True, text=True, timeout=120, check=False)
        match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
        if match is None:
            pytest.skip(f"offline security analysis unavailable: {result.stderr.strip()}")
        assert float(match.group(1)) <= 1.0, result.stdout


MDWE_SCRIPT = """
import ctypes, mmap, pathlib, queue, sys
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    print("unsupported"); sys.exit(0)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except OSError:
    pass
else:
    print("not enforced"); sys.exit(0)
import daemon.logconfig, daemon.notify, registry.config
from watchdog.events import FileSystemEventHandler
from watchdog.observers.inotify import InotifyObserver
events = queue.Queue()
class Handler(FileSystemEventHandler):
    def on_any_event(self, event):
        events.put(event)
observer = InotifyObserver()
observer.schedule(Handler(), sys.argv[1], recursive=True)
observer.start()
try:
    (pathlib.Path(sys.argv[1]) / "model.md").write_text("# GNN\\n")
    print("event", events.get(timeout=10).event_type)
finally:
    observer.stop()
    observer.join()
"""


class TestMemoryDenyWriteExecute:
    def test_watcher_runs_without_writable_executable_memory(self, tmp_path):
        """With W+X memory refused (as MemoryDenyWriteExecute=yes does) inotify watching works."""
        repo = Path(__file__).resolve().parents[1]
        result = subprocess.run(
            [sys.executable, "-c", MDWE_SCRIPT, str(tmp_path)], capture_output=True,
            text=True, timeout=60, check=False, cwd=repo)
        assert result.returncode == 0, result.stderr
        if result.stdout.strip() in ("unsupported", "not enforced"):
            pytest.skip(f"prctl(PR_SET_MDWE) {result.stdout.strip()} on this kernel")
        assert result.stdout.split() == ["event", "created"]
