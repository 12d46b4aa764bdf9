"""The soak script's short mode: publishing while clients query, no errors, lag back to zero."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest


def run_soak(*args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    figures: dict[str, Any] = json.loads(result.stdout)
    assert result.returncode == (0 if figures["passed"] else 1)
    return figures


def test_soak_quick() -> None:
    figures = run_soak("--quick")
    assert figures["failures"] == 0, figures["failure_samples"]
    assert figures["lag_zero"] is True
    assert figures["requests"] > 0
    assert figures["passed"] is True


@pytest.mark.slow
def test_soak_long() -> None:
    figures = run_soak("--events", "50000", "--clients", "20", "--seconds", "30")
    assert figures["passed"] is True, figures
