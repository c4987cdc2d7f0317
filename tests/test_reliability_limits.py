"""Resource limits: a job's huge output goes to disk whole with bounded memory; 10,000 jobs load and
list in reasonable time. (1 GB by hand: ``scripts/crashtest.py --big-output-mib 1024``.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from reliability.load import MIB, big_output, many_jobs

SIZE_MIB = int(os.environ.get("ORCH_BIG_OUTPUT_MIB", "64"))


def test_huge_output_is_captured_whole_with_bounded_memory(tmp_path: Path) -> None:
    result = big_output(tmp_path, SIZE_MIB * MIB)
    assert result.code == 0
    assert result.log_bytes == SIZE_MIB * MIB  # every byte on disk
    if os.name == "posix":
        # Memory does not grow with the output: well under the output's size above the baseline.
        assert result.max_rss_kib - result.baseline_rss_kib < 32 * 1024, result


@pytest.mark.slow
def test_ten_thousand_jobs_load_and_list(tmp_path: Path) -> None:
    result = many_jobs(tmp_path, 10_000)
    assert result.lines == 10_000
    first, cached = result.seconds.values()
    assert first < 30 and cached < 30, result.seconds  # generous: 2 shared cores; ~2.4 s and ~0.4 s idle
