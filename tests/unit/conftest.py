"""Fixtures of the pure tests."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def far_east_zone() -> Iterator[None]:
    """The machine's local zone at UTC+14: dates and times must still be UTC ones."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "RAP-14"  # POSIX: 14 hours east of UTC
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()
