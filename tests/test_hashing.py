"""``hash``: JSON lines per file, algorithms, manifests as sha256sum/sha1sum/sha512sum write them."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import assert_error

from orchastration.hashing import BLOCK_SIZE, hash_file


def test_hash_file_prints_compact_json_line(cli, tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_bytes(b"hello\n")
    result = cli(["hash", "--file", "a.txt"])
    assert result.code == 0, result.err
    expected = {"file": str(target), "algorithm": "sha256", "hash": hashlib.sha256(b"hello\n").hexdigest()}
    assert result.out == json.dumps(expected, separators=(",", ":")) + "\n"


@pytest.mark.parametrize("algo", ["sha256", "SHA1", "sha512", "md5", "Blake2b", "sha3_256"])
def test_every_algorithm_case_insensitive(cli, tmp_path: Path, algo: str) -> None:
    (tmp_path / "f").write_bytes(b"data")
    line = json.loads(cli(["hash", "--file", "f", "--algo", algo]).out)
    assert line["algorithm"] == algo.lower()
    assert line["hash"] == hashlib.new(algo.lower(), b"data").hexdigest()


def test_repeatable_file_flag(cli, tmp_path: Path) -> None:
    for name in ("x", "y"):
        (tmp_path / name).write_text(name)
    result = cli(["hash", "--file", "x", "--file", "y"])
    assert [json.loads(line)["file"] for line in result.lines] == [str(tmp_path / "x"), str(tmp_path / "y")]


def test_config_algorithm_is_the_default(cli, tmp_path: Path) -> None:
    (tmp_path / "orchastration.toml").write_text('[hash]\nalgorithm = "sha512"\n')
    (tmp_path / "f").write_text("x")
    assert json.loads(cli(["hash", "--file", "f"]).out)["algorithm"] == "sha512"


def test_missing_file_is_exit_2(cli, tmp_path: Path) -> None:
    assert_error(cli(["hash", "--file", "nope.bin"]), 2, "nope.bin", "no such file")


def test_directory_is_exit_2(cli, tmp_path: Path) -> None:
    assert_error(cli(["hash", "--file", str(tmp_path)]), 2, "is a directory")


def test_unknown_algorithm_is_exit_2(cli, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert_error(cli(["hash", "--file", "f", "--algo", "crc32"]), 2, "--algo", "crc32")


def test_no_arguments_is_usage_error(cli) -> None:
    assert_error(cli(["hash"]), 2, "--file")


def test_large_file_streams_in_blocks(tmp_path: Path) -> None:
    big = tmp_path / "big"
    chunk = bytes(range(256)) * 4096
    with big.open("wb") as fh:
        for _ in range(5):
            fh.write(chunk)
        fh.write(b"tail")
    assert big.stat().st_size > 2 * BLOCK_SIZE
    assert hash_file(big, "sha256") == hashlib.sha256(big.read_bytes()).hexdigest()


@pytest.mark.parametrize("size", [0, 1, 240, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1, 2 * BLOCK_SIZE + 7])
def test_small_files_read_whole_and_large_ones_in_blocks_hash_alike(tmp_path: Path, size: int) -> None:
    data = bytes((i * 7 + size) % 251 for i in range(size))
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    for algo in ("sha256", "md5", "blake2b"):
        assert hash_file(path, algo) == hashlib.new(algo, data).hexdigest()


@pytest.mark.parametrize("tool", ["sha256sum", "sha1sum", "sha512sum", "md5sum"])
def test_check_accepts_coreutils_manifests(cli, tmp_path: Path, tool: str) -> None:
    if not shutil.which(tool):
        pytest.skip(f"{tool} not installed")
    (tmp_path / "a.txt").write_text("alpha")
    (tmp_path / "b.bin").write_bytes(b"\x00\x01")
    (tmp_path / "with space.txt").write_text("s")
    text = subprocess.run([tool, "a.txt", "with space.txt"], cwd=tmp_path, capture_output=True, text=True).stdout
    text += subprocess.run([tool, "--binary", "b.bin"], cwd=tmp_path, capture_output=True, text=True).stdout
    assert "*b.bin" in text
    (tmp_path / "SUMS").write_text(text)
    result = cli(["hash", "--check", "SUMS"])
    assert result.code == 0, result.err
    assert result.lines == ["a.txt: OK", "with space.txt: OK", "b.bin: OK"]


def test_check_mismatch_and_missing_fail_with_exit_1(cli, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha")
    good = hashlib.sha256(b"alpha").hexdigest()
    bad = hashlib.sha256(b"other").hexdigest()
    (tmp_path / "SUMS").write_text(f"{good}  a.txt\n{bad}  a.txt\n{good}  gone.txt\n")
    result = cli(["hash", "--check", "SUMS"])
    assert result.code == 1
    assert result.lines == ["a.txt: OK", "a.txt: FAILED", "gone.txt: FAILED open or read"]
    assert "2 of 3 computed checksums did NOT match" in result.err


def test_check_paths_relative_to_manifest_dir(cli, tmp_path: Path) -> None:
    sub = tmp_path / "release"
    sub.mkdir()
    (sub / "f").write_text("x")
    (sub / "SUMS").write_text(f"{hashlib.sha256(b'x').hexdigest()}  f\n")
    assert cli(["hash", "--check", "release/SUMS"]).lines == ["f: OK"]


def test_check_bsd_tag_format(cli, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    (tmp_path / "SUMS").write_text(f"SHA256 (f) = {hashlib.sha256(b'x').hexdigest()}\n")
    assert cli(["hash", "--check", "SUMS"]).lines == ["f: OK"]


def test_check_malformed_line_names_manifest_and_line(cli, tmp_path: Path) -> None:
    (tmp_path / "SUMS").write_text(f"{hashlib.sha256(b'x').hexdigest()}  f\nnot a checksum line\n")
    assert_error(cli(["hash", "--check", "SUMS"]), 2, "SUMS:2", "improperly formatted")


def test_check_missing_manifest_is_exit_2(cli, tmp_path: Path) -> None:
    assert_error(cli(["hash", "--check", "nope"]), 2, "nope", "no such manifest")


def test_check_algo_that_does_not_fit_digest(cli, tmp_path: Path) -> None:
    (tmp_path / "SUMS").write_text(f"{hashlib.sha256(b'x').hexdigest()}  f\n")
    assert_error(cli(["hash", "--check", "SUMS", "--algo", "md5"]), 2, "SUMS:1", "cannot be md5")
