"""The viewer node (``[[viewer]]`` in a rig): the live viewer window as one process of
the graph. It ends when every camera it shows has ended, when its window is closed,
or on a stop request."""

from __future__ import annotations

import logging
import time

from stream.rig import ViewerSpec

log = logging.getLogger(__name__)

TICK_S = 0.01


def skeleton_of(models: list[str]) -> list[list[str]]:
    """The skeleton stored in the first model artifact that has one."""
    from train.model.artifact import read_meta

    for model in models:
        skeleton = read_meta(model).skeleton
        if skeleton:
            return [list(edge) for edge in skeleton]
    return []


def run(spec: ViewerSpec, node) -> None:
    from stream.viewer import LiveView, Receiver, ViewState, app

    qt = app()
    state = ViewState()
    receiver = Receiver(spec.input_endpoints, state, node.bus)
    receiver.start()
    window = LiveView(state, spec.skeleton or skeleton_of(spec.models), spec.pcutoff,
                      spec.refresh_hz, title=f"poseloop: {spec.name}")
    window.resize(1000, 420)
    window.show()
    node.ready()
    seen = 0
    try:
        while not node.stop.requested and window.isVisible():
            if spec.cameras and set(spec.cameras) <= state.ended:
                break
            qt.processEvents()
            time.sleep(TICK_S)
            with state.lock:
                fresh, seen = state.received - seen, state.received
            node.stats.queue = 0
            for _ in range(fresh):
                node.stats.frame(spec.name)
            node.stats.tick()
    finally:
        window.close()
        receiver.close()
    log.info("%s: %d refreshes drew", spec.name, window.drawn)
