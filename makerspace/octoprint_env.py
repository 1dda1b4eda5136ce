"""OctoPrint for tests, demos and benchmarks: its own virtualenv and virtual-printer servers.

OctoPrint pins many packages (Flask, Tornado, pydantic 1/2 bridges …) that would fight the
project's own dependencies, so it lives in `.venv-octoprint` at the repository root, never in the
project venv. The test fixtures and `make test` both call `ensure()`; several test processes may
start at once, so the install is serialised with an exclusive file lock and is a no-op once
OctoPrint imports.

`VirtualOctoPrint` runs one real OctoPrint server with its bundled virtual printer on a free
loopback port, in a fresh base directory, with an admin user whose API key it knows.

Run as `python -m makerspace.octoprint_env [VENV_DIR]` (any Python 3.11; prints the path of the
`octoprint` executable).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VENV = REPO_ROOT / ".venv-octoprint"
# The release line the driver is written and tested against.
OCTOPRINT_REQUIREMENT = "OctoPrint>=1.11,<1.12"


def octoprint_executable(venv: Path = DEFAULT_VENV) -> Path:
    return venv / "bin" / "octoprint"


def is_installed(venv: Path = DEFAULT_VENV) -> bool:
    """True when the venv's interpreter imports OctoPrint (a half-finished install does not)."""
    python = venv / "bin" / "python"
    if not python.exists() or not octoprint_executable(venv).exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", "import octoprint"], capture_output=True, check=False, timeout=60
    )
    return probe.returncode == 0


def ensure(venv: Path = DEFAULT_VENV, python: str | None = None) -> Path:
    """Create the venv and install OctoPrint unless it is already there; return the executable.

    The lock is named after the venv's path, so every checkout serialises on its own install;
    it lives in the temporary directory, out of the work tree.
    """
    venv = Path(venv).resolve()
    venv.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(str(venv).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"smartlib-octoprint-{digest}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_installed(venv):
            # The base interpreter, not this venv's: a venv nested in a venv inherits nothing,
            # but naming the real interpreter keeps `pyvenv.cfg` honest.
            base = python or getattr(sys, "_base_executable", None) or sys.executable
            subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
            pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
            env = {**os.environ, "PIP_NO_INPUT": "1"}
            subprocess.run([*pip, "install", "-q", OCTOPRINT_REQUIREMENT], check=True, env=env)
            if not is_installed(venv):
                raise RuntimeError(f"OctoPrint did not install into {venv}")
    return octoprint_executable(venv)


# OctoPrint rewrites config.yaml on start, so it is written fresh before every start. JSON is
# valid YAML, which spares the project a YAML dependency.
_CONFIG: dict = {
    "server": {
        "firstRun": False,
        "onlineCheck": {"enabled": False},
        "pluginBlacklist": {"enabled": False},
        "pythonEolCheck": {"enabled": False},
    },
    "plugins": {
        # Everything that would reach the network or nag at first start.
        "_disabled": [
            "announcements",
            "softwareupdate",
            "pluginmanager",
            "tracking",
            "errortracking",
            "discovery",
            "health_check",
            "achievements",
            "firmware_check",
            "pi_support",
        ],
        # The default simulated errors stall every print for ~30 s at line 105.
        "virtual_printer": {"enabled": True, "simulated_errors": [], "sendWait": False},
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class VirtualOctoPrint:
    """One OctoPrint server with its virtual printer, owned by whoever started it.

    `virtual_printer` overrides the virtual printer's settings (e.g. `pinnedExtruders` so that a
    sliced file's heat-up waits pass at once).
    """

    def __init__(
        self,
        basedir: Path,
        *,
        port: int | None = None,
        executable: Path | None = None,
        virtual_printer: dict | None = None,
    ) -> None:
        self.basedir = Path(basedir)
        self.port = port or free_port()
        self.executable = executable or octoprint_executable()
        self.api_key = secrets.token_hex(16).upper()
        self.virtual_printer = virtual_printer or {}
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def _write_basedir(self) -> None:
        # Imported here so that installing (above) needs nothing but the standard library.
        from argon2 import PasswordHasher

        self.basedir.mkdir(parents=True, exist_ok=True)
        config = json.loads(json.dumps(_CONFIG))
        config["plugins"]["virtual_printer"].update(self.virtual_printer)
        (self.basedir / "config.yaml").write_text(json.dumps(config, indent=2))
        users = {
            "_version": 2,
            "admin": {
                "password": PasswordHasher().hash(secrets.token_urlsafe(16)),
                "active": True,
                "groups": ["admins", "users"],
                "permissions": [],
                "apikey": self.api_key,
                "settings": {},
            },
        }
        (self.basedir / "users.yaml").write_text(json.dumps(users, indent=2))

    async def start(self, timeout_s: float = 60.0) -> None:
        """Start the server and return once its API answers with our key."""
        self._write_basedir()
        log = (self.basedir / "serve.log").open("ab")
        try:
            self._process = await asyncio.create_subprocess_exec(
                str(self.executable),
                "serve",
                "--basedir",
                str(self.basedir),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                # Needed when running as root, as CI does.
                "--iknowwhatimdoing",
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        await self._wait_until_answering(timeout_s)

    async def _wait_until_answering(self, timeout_s: float) -> None:
        import aiohttp

        deadline = time.monotonic() + timeout_s
        headers = {"X-Api-Key": self.api_key}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.monotonic() < deadline:
                if not self.running:
                    raise RuntimeError(f"OctoPrint exited on start:\n{self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(f"{self.url}/api/version", headers=headers) as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.05)
        raise TimeoutError(f"OctoPrint did not answer within {timeout_s} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        path = self.basedir / "serve.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    async def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if not self.running:
            return
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self._process.wait(), timeout_s)
        except TimeoutError:
            await self.kill()

    async def kill(self) -> None:
        """Die at once, as a crashed or unplugged server would."""
        if not self.running:
            return
        assert self._process is not None
        self._process.kill()
        await self._process.wait()


if __name__ == "__main__":
    print(ensure(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_VENV))
