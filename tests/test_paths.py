"""OS paths on Linux and Windows (docs/configuration.md), and the state-dir overrides."""

from __future__ import annotations

from pathlib import Path, PureWindowsPath

from orchastration.paths import Paths, expand_home, project_state_dir


def test_linux_xdg_dirs() -> None:
    env = {"HOME": "/home/u", "XDG_CONFIG_HOME": "/cfg", "XDG_CACHE_HOME": "/cache"}
    paths = Paths.resolve(None, env, "linux")
    assert paths.user_config == Path("/cfg/orchastration/config.toml")
    assert paths.state_dir == Path("/cache/orchastration/state/projects/default")
    assert paths.log_file == Path("/cache/orchastration/orchastration.log")


def test_linux_fallbacks_without_xdg() -> None:
    paths = Paths.resolve(None, {"HOME": "/home/u"}, "linux")
    assert paths.user_config == Path("/home/u/.config/orchastration/config.toml")
    assert paths.state_dir == Path("/home/u/.cache/orchastration/state/projects/default")
    assert paths.log_file == Path("/home/u/.cache/orchastration/orchastration.log")


def test_relative_xdg_is_ignored_as_the_spec_requires() -> None:
    paths = Paths.resolve(None, {"HOME": "/home/u", "XDG_CACHE_HOME": "rel"}, "linux")
    assert paths.state_dir == Path("/home/u/.cache/orchastration/state/projects/default")


def test_windows_appdata_dirs() -> None:
    env = {"APPDATA": r"C:\Users\u\AppData\Roaming", "LOCALAPPDATA": r"C:\Users\u\AppData\Local"}
    paths = Paths.resolve(None, env, "win32")
    assert PureWindowsPath(paths.user_config) == PureWindowsPath(
        r"C:\Users\u\AppData\Roaming\orchastration\config.toml"
    )
    assert PureWindowsPath(paths.state_dir) == PureWindowsPath(
        r"C:\Users\u\AppData\Local\orchastration\state\projects\default"
    )
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


def test_each_config_file_gets_its_own_state_dir(tmp_path: Path) -> None:
    config = tmp_path / "my proj!" / "orchastration.toml"
    config.parent.mkdir()
    config.write_text("")
    env = {"HOME": "/home/u", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    state = Paths.resolve(None, env, "linux", config_file=config).state_dir
    assert state.parent == tmp_path / "cache" / "orchastration" / "state" / "projects"
    name, digest = state.name.rsplit("-", 1)
    assert name == "my_proj_" and len(digest) == 12 and int(digest, 16) >= 0
    link = tmp_path / "link"
    link.symlink_to(config.parent)  # the resolved path is hashed: the same project through a symlink
    assert project_state_dir(Path("/r"), link / "orchastration.toml") == project_state_dir(Path("/r"), config)
    other = tmp_path / "b" / "orchastration.toml"
    assert project_state_dir(Path("/r"), other) != project_state_dir(Path("/r"), config)
    env["ORCHASTRATION_STATE_DIR"] = str(tmp_path / "explicit")  # names the state dir itself
    assert Paths.resolve(None, env, "linux", config_file=config).state_dir == tmp_path / "explicit"


def test_home_expands_from_the_given_environment() -> None:
    assert expand_home("~/proj", {"HOME": "/h1"}, "linux") == "/h1/proj"
    assert expand_home("~", {"HOME": "/h1/"}, "linux") == "/h1"
    assert expand_home("~\\proj", {"USERPROFILE": "C:\\Users\\u"}, "win32") == "C:\\Users\\u\\proj"
    assert expand_home("~/p", {"HOMEDRIVE": "D:", "HOMEPATH": "\\me"}, "win32") == "D:\\me/p"
    assert expand_home("a/~", {"HOME": "/h1"}, "linux") == "a/~"
