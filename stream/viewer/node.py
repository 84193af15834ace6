"""The viewer node (``[[viewer]]`` in a rig): the live viewer window as one process of
the graph, its stats panel fed by the supervisor's copy of every node's stats. It ends
when every camera it shows has ended, when its window is closed, or on a stop request."""

from __future__ import annotations

import logging

from stream import messages as m
from stream.bus import Expect, Listener
from stream.node_specs import ViewerSpec

log = logging.getLogger(__name__)

POLL_MS = 100


def run(spec: ViewerSpec, node) -> None:
    from stream.viewer.feed import skeleton_of
    from stream.viewer.window import open_viewer, run_viewer

    window, receiver = open_viewer(spec.input_endpoints, spec.skeleton or skeleton_of(spec.models),
                                   spec.pcutoff, f"poseloop: {spec.name}", spec.refresh_hz,
                                   node.bus, spec.cameras, node.fail)
    state = window.state
    stats = None  # a viewer run outside a rig (by hand, in tests) has no supervisor's copy
    if spec.stats_endpoint:
        # any node's name: only the supervisor publishes there, and it took only its nodes'
        stats = Listener(node.bus, node.bus.stats_in(spec.stats_endpoint), state.feed,
                         POLL_MS, Expect((m.StatsMessage,), None), node.fail)
        stats.start()
    node.ready()
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

    try:
        drawn = run_viewer(window, receiver, done)
    finally:
        if stats is not None:
            stats.close()
    log.info("%s: %d refreshes drew", spec.name, drawn)
    if window.stats is not None:  # what the panel showed last, for the log
        log.info("%s: stats panel\n%s", spec.name, window.stats.text())
