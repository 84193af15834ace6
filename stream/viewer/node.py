"""The viewer node (``[[viewer]]`` in a rig): the live viewer window as one process of
the graph. It ends when every camera it shows has ended, when its window is closed,
or on a stop request."""

from __future__ import annotations

import logging

from stream.node_specs import ViewerSpec

log = logging.getLogger(__name__)


def run(spec: ViewerSpec, node) -> None:
    from stream.viewer.feed import skeleton_of
    from stream.viewer.window import open_viewer, run_viewer

    window, receiver = open_viewer(spec.input_endpoints, spec.skeleton or skeleton_of(spec.models),
                                   spec.pcutoff, f"poseloop: {spec.name}", spec.refresh_hz,
                                   node.bus, spec.cameras, node.fail)
    node.ready()
    state = window.state
    seen = 0

    def done() -> bool:
        nonlocal seen
        with state.lock:
            fresh, seen = state.received - seen, state.received
        node.stats.queue = 0
        for _ in range(fresh):
            node.stats.frame(spec.name)
        node.stats.tick()
        return node.stop.requested or bool(spec.cameras) and set(spec.cameras) <= state.ended

    drawn = run_viewer(window, receiver, done)
    log.info("%s: %d refreshes drew", spec.name, drawn)
