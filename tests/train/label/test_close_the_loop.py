"""Item 6 of issue 6: the active-learning loop closes on the synthetic animal (slow: two
trainings and two analyses on the CPU; numbers printed by tools/close_the_loop.py)."""

import importlib.util

import pytest

from tests.conftest import ROOT


def _loop_module():
    spec = importlib.util.spec_from_file_location("close_the_loop",
                                                  ROOT / "tools" / "close_the_loop.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_outliers_are_real_errors_and_retraining_helps(tmp_path):
    # training and batch analysis are other parts of poseloop; until they are in this
    # checkout there is no loop to close
    pytest.importorskip("train.model.trainer")
    pytest.importorskip("stream.batch")
    r = _loop_module().close_the_loop(tmp_path, frames=300, labeled=6, numframes2pick=20,
                                      epochs=60, max_minutes=60.0)
    print(r)
    assert len(r.outliers) == 20
    assert r.precision >= 0.8  # extracted frames are ones the network really got wrong
    assert r.after.labeled == r.before.labeled + 20
    assert r.after.mean_error < r.before.mean_error
