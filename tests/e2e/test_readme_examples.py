"""The README's examples work as written, against a real `rapport up`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.helpers import rapport_up

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- tested: tests/e2e/test_readme_examples.py"


def marked_python_block() -> str:
    """The Python block that follows the README's `tested` marker."""
    text = README.read_text()
    after = text[text.index(MARKER) :]
    found = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert found is not None, "the marked block is gone"
    return found.group(1)


def test_the_raw_publish_with_producer_credentials_works_as_written(tmp_path: Path) -> None:
    code = marked_python_block()
    assert "nats://127.0.0.1:4222" in code
    with rapport_up(tmp_path) as up:
        script = tmp_path / "example.py"
        script.write_text(code.replace("nats://127.0.0.1:4222", up.nats_url))
        ran = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,  # beside rapport-data, as a reader of the README would be
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        reply, seq = ran.stdout.splitlines()
        accepted = json.loads(reply)
        assert accepted["rejected"] == []
        assert [a["id"] for a in accepted["accepted"]] == ["evt-78"]
        assert int(seq) == accepted["accepted"][0]["seq"] + 1
        history = up.rapport("history", "rel-42", "--json")
        assert history.returncode == 0, history.stderr
        assert {"evt-78", "evt-79"} <= set(re.findall(r'"(evt-\d+)"', history.stdout))
