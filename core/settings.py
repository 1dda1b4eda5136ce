"""Settings from `SMARTLIB_*` environment variables, with an optional TOML file underneath.

Precedence, highest first: environment, the TOML file named by `SMARTLIB_CONFIG`, defaults.
Settings are a frozen value handed to `create_app`; nothing reads the environment later, so a
test can build several apps with different settings in one process.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from core.errors import Invalid

ENV_PREFIX = "SMARTLIB_"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    # Processes of one deployment share this pub/sub channel; another deployment on the same
    # Redis must use another name.
    redis_channel: str = "smartlib"
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    # Public address of the server, for links printed on marker sheets and sent to catalogs.
    base_url: str = ""
    default_lang: str = "vi"
    fallback_lang: str = "en"
    languages: tuple[str, ...] = ("vi", "en")
    max_request_bytes: int = 1 << 20
    max_upload_bytes: int = 512 << 20
    # Camera frames over Socket.IO: the size a tablet's JPEG may have, and the marker
    # dictionaries searched in it (each one searched costs time on every frame).
    max_frame_bytes: int = 4 << 20
    frame_dictionaries: tuple[str, ...] = ("aruco_4x4_50", "apriltag_36h11")
    vision_threads: int = 2
    token_ttl_hours: int = 24 * 14
    session_ttl_hours: int = 12
    # Run migrations when the server starts (the embedded default); scaled deployments may
    # prefer a separate `smartlib db upgrade` step.
    migrate_on_start: bool = True
    # "inprocess": `serve` also runs the worker (the embedded default); "external": a separate
    # `smartlib worker` process does.
    worker: str = "inprocess"
    # Processes for mesh work; each may need a few GB for a 10 M-triangle scan.
    mesh_workers: int = 1
    log_level: str = "INFO"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def public_url(self) -> str:
        return self.base_url or f"http://{self.host}:{self.port}"


def _coerce(name: str, raw: Any, default: Any) -> Any:
    """Turn a string from the environment (or a TOML value) into the type of the default."""
    try:
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            return str(raw).strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, Path):
            return Path(raw)
        if isinstance(default, tuple):
            items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
            return tuple(str(item).strip() for item in items if str(item).strip())
    except (TypeError, ValueError) as exc:
        raise Invalid(
            f"Setting {ENV_PREFIX}{name.upper()} has a bad value: {raw!r}", field=name
        ) from exc
    return raw


def load_settings(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings, create the data directory, and make sure a secret key exists.

    The secret key signs nothing by itself but keys the encryption of stored printer keys and the
    hashing of tokens, so it must survive restarts: when none is configured it is generated once
    and kept in `DATA_DIR/secret_key` with mode 600.
    """
    env = dict(os.environ if env is None else env)
    defaults = Settings()
    values: dict[str, Any] = {}
    config_file = env.get(ENV_PREFIX + "CONFIG")
    if config_file:
        with Path(config_file).open("rb") as fh:
            values.update(tomllib.load(fh))
    for f in fields(Settings):
        key = ENV_PREFIX + f.name.upper()
        if key in env:
            values[f.name] = env[key]
    values.update(overrides)
    known = {f.name for f in fields(Settings)}
    extra = {k: v for k, v in values.items() if k not in known}
    typed = {k: _coerce(k, v, getattr(defaults, k)) for k, v in values.items() if k in known}
    settings = replace(defaults, **typed, extra=extra)

    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = replace(settings, data_dir=data_dir)
    if not settings.database_url:
        settings = replace(settings, database_url=f"sqlite+aiosqlite:///{data_dir}/smartlib.db")
    if not settings.secret_key:
        settings = replace(settings, secret_key=_stored_secret(data_dir / "secret_key"))
    return settings


def _stored_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    # Create with 0600 from the start so the key is never readable by others, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key
