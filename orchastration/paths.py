"""Every OS path the tool uses, in one ``Paths`` object (platformdirs, overridable)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from orchastration.errors import ConfigError
from orchastration.named_tuple import NamedTuple

APP = "orchastration"
CONFIG_ENV = "ORCHASTRATION_CONFIG"
PROJECT_FILE = "orchastration.toml"


def _is_windows(platform: str) -> bool:
    return platform.startswith("win")


def user_config_file(environ: Mapping[str, str], platform: str = sys.platform) -> Path:
    """The user config file: XDG config home / %AppData%, as docs/configuration.md says."""
    if _is_windows(platform):
        appdata = environ.get("APPDATA")
        if appdata:
            return Path(appdata) / APP / "config.toml"
        import platformdirs

        return Path(platformdirs.user_config_dir(APP, appauthor=False, roaming=True)) / "config.toml"
    xdg = environ.get("XDG_CONFIG_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / APP / "config.toml"
    return Path(environ.get("HOME") or Path.home()) / ".config" / APP / "config.toml"


def user_cache_dir(environ: Mapping[str, str], platform: str = sys.platform) -> Path:
    """Directory holding state and the log file: XDG cache / %LocalAppData% (docs/architecture.md)."""
    if _is_windows(platform):
        local = environ.get("LOCALAPPDATA")
        if local:
            return Path(local) / APP
        import platformdirs

        return Path(platformdirs.user_data_dir(APP, appauthor=False, roaming=False))
    xdg = environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / APP
    return Path(environ.get("HOME") or Path.home()) / ".cache" / APP


def expand_home(text: str, environ: Mapping[str, str], platform: str = sys.platform) -> str:
    """``~`` / ``~/...`` expanded from ``environ`` (HOME; on Windows USERPROFILE, else HOMEDRIVE+HOMEPATH),
    as the jobs will see it; ``~user`` and an environment without a home fall back to the OS."""
    if not text.startswith("~"):
        return text
    rest = text[1:]
    if rest and rest[0] not in "/\\":
        return os.path.expanduser(text)  # ~user
    if _is_windows(platform):
        home = environ.get("USERPROFILE") or (environ.get("HOMEDRIVE", "") + environ.get("HOMEPATH", ""))
    else:
        home = environ.get("HOME", "")
    return home.rstrip("/\\") + rest if home else os.path.expanduser(text)


def home_key(environ: Mapping[str, str]) -> str:
    """What ``~`` expands to, as one string for cache and summary keys (every variable either OS reads)."""
    return "\0".join(environ.get(k, "") for k in ("HOME", "USERPROFILE", "HOMEDRIVE", "HOMEPATH"))


def project_state_dir(root: Path, config_file: Path | None) -> Path:
    """``<root>/projects/<dir>-<hash12>/`` for a config file (its parent directory's name, sanitised, and
    the sha256 of its resolved path), ``<root>/projects/default/`` without one. Only the path string is
    hashed: cheap enough for the no-op run."""
    if config_file is None:
        return root / "projects" / "default"
    import hashlib
    import re

    real = os.path.realpath(config_file)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(os.path.dirname(real)))[:64] or "root"
    digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return root / "projects" / f"{name}-{digest}"


def log_file(environ: Mapping[str, str], platform: str = sys.platform) -> Path:
    """The JSON-lines log file, shared by every project (its events name their project)."""
    return user_cache_dir(environ, platform) / "orchastration.log"


class Paths(NamedTuple):
    """Where config, state and logs live for one invocation (a NamedTuple, not a dataclass: the
    no-op ``run`` builds one before anything heavier than ``os`` and ``pathlib`` loads)."""

    user_config: Path
    state_dir: Path
    log_file: Path

    @classmethod
    def resolve(
        cls,
        state_dir: str | os.PathLike[str] | None,
        environ: Mapping[str, str],
        platform: str = sys.platform,
        *,
        config_file: Path | None = None,
    ) -> Paths:
        """Build the paths: ``--state-dir`` > ``$ORCHASTRATION_STATE_DIR`` (the state dir itself) > the
        project's own dir under the OS state root (``config_file``: the config in use, None: none found)."""
        env = environ
        cache = user_cache_dir(env, platform)
        chosen = state_dir or env.get("ORCHASTRATION_STATE_DIR")
        if chosen:
            state = Path(expand_home(str(chosen), env, platform)).absolute()
        else:
            state = project_state_dir(cache / "state", config_file)
        return cls(
            user_config=user_config_file(env, platform),
            state_dir=state,
            log_file=log_file(env, platform),
        )

    # Layout of the state dir, owned here so every module agrees on it.
    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"

    @property
    def tasks_dir(self) -> Path:
        return self.state_dir / "tasks"

    @property
    def orchestrations_dir(self) -> Path:
        return self.state_dir / "orchestrations"

    @property
    def config_cache_dir(self) -> Path:
        """Parsed configs (``jobs.cached_config``), in the user cache dir beside the log file: shared by
        every state dir of this user, so a new checkout at the same path (a CI job with its cache
        restored, a re-clone) does not parse its config again."""
        return self.log_file.parent / "config-cache"

    @property
    def engine_dir(self) -> Path:
        """Private engine data (doit database, up-to-date summaries, the lock)."""
        return self.state_dir / "engine"


def find_config(
    explicit: str | os.PathLike[str] | None,
    environ: Mapping[str, str],
    cwd: Path,
    user_config: Path,
) -> tuple[Path | None, str]:
    """Apply the lookup order; return the file (or None) and why it was chosen."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found (from --config)")
        return path.absolute(), "--config"
    env_value = environ.get(CONFIG_ENV)
    if env_value:
        path = Path(env_value).expanduser()
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found (from ${CONFIG_ENV})")
        return path.absolute(), f"${CONFIG_ENV}"
    for directory in (cwd, *cwd.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            return candidate.absolute(), f"{PROJECT_FILE} in {directory}"
    if user_config.is_file():
        return user_config, "user config file"
    return None, f"no config file found (looked for {PROJECT_FILE} and {user_config}): built-in defaults"
