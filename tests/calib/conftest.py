"""Fixtures of the virtual rig: known cameras, board motion and what each camera sees."""

from __future__ import annotations

import pytest

from calib.virtual_rig import board_motion, make_rig


@pytest.fixture(scope="session")
def rig4():
    return make_rig(4, seed=1)


@pytest.fixture(scope="session")
def rig3():
    return make_rig(3, seed=1)


@pytest.fixture(scope="session")
def motion4(rig4):
    return board_motion(80, rig4[1], seed=2)
