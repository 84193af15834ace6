"""Modules stay small enough to read at one sitting."""

from tests.conftest import ROOT

MAX_LINES = 500


def test_no_module_over_500_lines():
    sizes = {path.relative_to(ROOT): len(path.read_text().splitlines())
             for package in ("calib", "train", "stream") for path in (ROOT / package).rglob("*.py")}
    assert sizes and not {p: n for p, n in sizes.items() if n > MAX_LINES}
