"""Item 6 of issue 6: the active-learning loop closes on the synthetic animal (slow: two
trainings and two analyses on the CPU). The loop is tools/close_the_loop.py, run as its
own process (tests never import tools); it writes its numbers as JSON."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_outliers_are_real_errors_and_retraining_helps(tmp_path):
    out = tmp_path / "loop.json"
    subprocess.run([sys.executable, str(ROOT / "tools" / "close_the_loop.py"),
                    "--workdir", str(tmp_path), "--frames", "300", "--labeled", "6",
                    "--pick", "20", "--epochs", "60", "--max-minutes", "60", "--json", str(out)],
                   cwd=ROOT, check=True)
    r = json.loads(out.read_text())
    print(r)
    assert len(r["outliers"]) == 20
    assert r["precision"] >= 0.8  # extracted frames are ones the network really got wrong
    assert r["after"]["labeled"] == r["before"]["labeled"] + 20
    assert r["after"]["mean_error"] < r["before"]["mean_error"]
