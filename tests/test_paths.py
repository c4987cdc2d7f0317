"""OS paths on Linux and Windows (docs/configuration.md), and the state-dir overrides."""

from __future__ import annotations

from pathlib import Path, PureWindowsPath

from orchastration.paths import Paths


def test_linux_xdg_dirs() -> None:
    env = {"HOME": "/home/u", "XDG_CONFIG_HOME": "/cfg", "XDG_CACHE_HOME": "/cache"}
    paths = Paths.resolve(None, env, "linux")
    assert paths.user_config == Path("/cfg/orchastration/config.toml")
    assert paths.state_dir == Path("/cache/orchastration/state")
    assert paths.log_file == Path("/cache/orchastration/orchastration.log")


def test_linux_fallbacks_without_xdg() -> None:
    paths = Paths.resolve(None, {"HOME": "/home/u"}, "linux")
    assert paths.user_config == Path("/home/u/.config/orchastration/config.toml")
    assert paths.state_dir == Path("/home/u/.cache/orchastration/state")
    assert paths.log_file == Path("/home/u/.cache/orchastration/orchastration.log")


def test_relative_xdg_is_ignored_as_the_spec_requires() -> None:
    paths = Paths.resolve(None, {"HOME": "/home/u", "XDG_CACHE_HOME": "rel"}, "linux")
    assert paths.state_dir == Path("/home/u/.cache/orchastration/state")


def test_windows_appdata_dirs() -> None:
    env = {"APPDATA": r"C:\Users\u\AppData\Roaming", "LOCALAPPDATA": r"C:\Users\u\AppData\Local"}
    paths = Paths.resolve(None, env, "win32")
    assert PureWindowsPath(paths.user_config) == PureWindowsPath(
        r"C:\Users\u\AppData\Roaming\orchastration\config.toml"
    )
    assert PureWindowsPath(paths.state_dir) == PureWindowsPath(r"C:\Users\u\AppData\Local\orchastration\state")
    assert PureWindowsPath(paths.log_file) == PureWindowsPath(
        r"C:\Users\u\AppData\Local\orchastration\orchastration.log"
    )


def test_state_dir_flag_beats_env(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "ORCHASTRATION_STATE_DIR": str(tmp_path / "env")}
    assert Paths.resolve(str(tmp_path / "flag"), env, "linux").state_dir == tmp_path / "flag"
    assert Paths.resolve(None, env, "linux").state_dir == tmp_path / "env"
    layout = Paths.resolve(None, env, "linux")
    assert layout.runs_dir == tmp_path / "env" / "runs"
    assert layout.tasks_dir == tmp_path / "env" / "tasks"
    assert layout.orchestrations_dir == tmp_path / "env" / "orchestrations"
