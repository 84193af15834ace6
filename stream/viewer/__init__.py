"""The live viewer: frames and 2D poses of every camera in a window, the 3D points and
the nodes' stats beside them.

The sub-modules: :mod:`~stream.viewer.feed` (the newest frames and poses, received from
the bus), :mod:`~stream.viewer.window` (the Qt window), :mod:`~stream.viewer.node` (the
``[[viewer]]`` node of a rig). Here, :func:`view` (``poseloop view``):

- ``view(["rig.toml"])`` loads the rig (live mode), turns on the sources' frame
  previews, runs the graph in the background (as ``poseloop run`` does) and shows it;
  closing the window, Ctrl-C or SIGTERM stops every node cleanly.
- ``view(["tcp://127.0.0.1:5555", ...])`` subscribes to those endpoints (poses of an
  inference node, frames of a source's preview) and only watches.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from calib.errors import ConfigError


def view(targets: list[str], pcutoff: float = 0.1, model: str | None = None,
         close_when_done: bool = False) -> int:
    """Show `targets` (one rig file, or endpoints) until the window is closed (or, with
    `close_when_done`, until the rig's input has ended). Returns how many refreshes drew."""
    from stream.viewer.feed import ViewState, skeleton_of
    from stream.viewer.window import open_viewer, run_viewer

    if not targets:
        raise ConfigError("view: give a rig file or at least one tcp:// endpoint")
    is_rig = len(targets) == 1 and Path(targets[0]).suffix == ".toml"
    bad = [t for t in targets if "://" not in t] if not is_rig else []
    if bad:
        raise ConfigError(f"view: {bad} are neither a rig file (.toml) nor endpoints (tcp://...)")
    runner, state = None, ViewState()
    if is_rig:
        endpoints, skeleton, runner = _start_rig(targets[0], pcutoff, state)
    else:
        endpoints, skeleton = targets, skeleton_of([model]) if model else []
    window, receiver = open_viewer(endpoints, skeleton, pcutoff,
                                   f"poseloop view {' '.join(targets)}", state=state)
    # Ctrl-C or SIGTERM only raise a flag: the event loop sees it between two ticks and
    # ends as if the window were closed (the nodes are stopped, their files closed)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return run_viewer(window, receiver, lambda: stop.is_set() or (
            close_when_done and runner is not None and not runner.is_alive()))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if runner is not None:
            runner.finish()


class _RigRunner(threading.Thread):
    """Runs a supervisor in the background; :meth:`finish` stops its nodes (SIGTERM, their
    stop request) and re-raises a node's failure here."""

    def __init__(self, supervisor):
        super().__init__(daemon=True)
        self.supervisor = supervisor
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.supervisor.run()
        except BaseException as exc:  # handed to the main thread by finish()
            self.error = exc

    def finish(self) -> None:
        for p in list(self.supervisor.procs.values()):
            if p.poll() is None:
                p.terminate()
        self.join()
        if self.error is not None:
            raise self.error


def _start_rig(path: str, pcutoff: float, state):
    """Run the rig of `path` in the background with a viewer spec for this window; the
    supervisor hands the nodes' stats to `state`."""
    from stream.rig import add_viewer, load_rig
    from stream.supervisor import Supervisor
    from stream.viewer.feed import skeleton_of

    rig = load_rig(path)
    spec = add_viewer(rig, pcutoff=pcutoff)
    nodes = [(role, s) for role, s in rig.nodes() if s is not spec]
    for rec in rig.recorders:
        Path(rec.folder).mkdir(parents=True, exist_ok=True)
    from stream import messages as m

    def on_message(msg: m.Message) -> None:
        if isinstance(msg, m.StatsMessage):
            state.feed(msg)

    runner = _RigRunner(Supervisor(nodes, rig.supervisor_endpoint, rig.stats_interval,
                                   on_message, print_stats=False,
                                   stats_endpoint=rig.stats_endpoint))
    runner.start()
    return spec.input_endpoints, skeleton_of(spec.models), runner
