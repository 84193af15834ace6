"""The interop tests: other tools, in their own environments, read what poseloop writes.

DeepLabCut runs in ``.venv-dlc`` (made by ``tools/make_interop_env.sh``; another
interpreter with ``POSELOOP_DLC_PYTHON``), driven through ``dlc_driver.py`` in a
subprocess: DeepLabCut is never imported into poseloop's environment. Without that
environment these tests skip.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

DLC_PYTHON = Path(os.environ.get("POSELOOP_DLC_PYTHON", ROOT / ".venv-dlc" / "bin" / "python"))
DRIVER = Path(__file__).parent / "dlc_driver.py"


@dataclass
class Dlc:
    """DeepLabCut in its own environment: :meth:`run` executes steps (see dlc_driver.py)
    in one process, since importing DeepLabCut takes seconds."""

    python: Path
    workdir: Path

    def run(self, steps: list[dict], timeout: float = 3600) -> list[dict]:
        """Results of `steps`, one per step: ``{"ok": True, "value": ...}`` or
        ``{"ok": False, "error": ...}``, each with its ``"seconds"``."""
        n = len(list(self.workdir.glob("steps-*.json")))
        steps_path = self.workdir / f"steps-{n}.json"
        result_path = self.workdir / f"result-{n}.json"
        steps_path.write_text(json.dumps(steps, indent=1))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env.update(HF_HUB_OFFLINE="1", MPLBACKEND="Agg", QT_QPA_PLATFORM="offscreen")
        proc = subprocess.run([str(self.python), str(DRIVER), str(steps_path), str(result_path)],
                              capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=self.workdir)
        if proc.returncode != 0 or not result_path.exists():
            pytest.fail(f"DeepLabCut driver failed (exit {proc.returncode}):\n"
                        f"{proc.stderr[-4000:]}")
        results = json.loads(result_path.read_text())
        assert len(results) == len(steps), proc.stderr[-4000:]
        return results


@pytest.fixture(scope="session")
def dlc(tmp_path_factory) -> Dlc:
    if not DLC_PYTHON.exists():
        pytest.skip(f"no DeepLabCut environment at {DLC_PYTHON} (tools/make_interop_env.sh)")
    return Dlc(DLC_PYTHON, tmp_path_factory.mktemp("dlc-driver"))


def ok(result: dict):
    """The value of a step that must have succeeded; else fail with DeepLabCut's error."""
    if not result["ok"]:
        pytest.fail(f"DeepLabCut: {result['error']}\n{result.get('traceback', '')[-3000:]}")
    return result["value"]
