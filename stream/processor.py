"""The processor node (``[[processor]]`` in a rig): closes the loop. It runs a user's class
(:func:`stream.processing.load_processor`, named by file and class) on every 2D pose or
3D instant of its inputs and hands each output to the built-in writers: a ZeroMQ
publisher (always, on the node's endpoint), a log of every output with the pose's capture
stamp and the output time (``<folder>/<name>.outputs.jsonl``), and a serial port when
``serial_port`` is given. Its stats latency is capture to output: from the pose's
capture stamp to the moment its outputs were written.

A processor that raises stops the node (and so the rig) with the error, naming its file:
in an experiment, a silent closed loop would be worse than a stopped one.
"""

from __future__ import annotations

import logging
from pathlib import Path

from calib.errors import ConfigError
from stream import messages as m
from stream.node_specs import ProcessorSpec
from stream.outputs import LogWriter, PublisherWriter, SerialWriter
from stream.processing import load_processor, outputs_of

log = logging.getLogger(__name__)

POLL_MS = 50
STOP_GRACE_S = 3.0


def output_log_path(folder: str | Path, name: str) -> Path:
    return Path(folder) / f"{name}.outputs.jsonl"


def run(spec: ProcessorSpec, node) -> None:
    processor = load_processor(spec.file, spec.class_name, spec.params)
    writers = [PublisherWriter(node.bus, spec.endpoint, spec.name),
               LogWriter(output_log_path(spec.folder, spec.name))]
    if spec.serial_port:
        writers.append(SerialWriter(spec.serial_port, spec.baudrate, spec.serial_template))
    inp = node.bus.input(spec.mode, spec.input_endpoints)
    where = f"{spec.file}: {spec.class_name}"
    ended: set[str] = set()
    node.ready()
    try:
        while len(ended) < len(spec.cameras) and not node.stop.grace_over(STOP_GRACE_S):
            for msg in node.bus.drain(inp, POLL_MS):
                if isinstance(msg, m.EndMessage):
                    ended.add(msg.camera)
                    continue
                if not isinstance(msg, (m.Pose2DMessage, m.Pose3DMessage)):
                    continue
                try:
                    result = processor.process(msg)
                except Exception as exc:  # the user's code: name it, stop the loop
                    raise ConfigError(f"{where}: process() failed on frame {msg.index} "
                                      f"({type(exc).__name__}: {exc})") from exc
                outputs = outputs_of(result, where)
                t_output = m.now_ns()
                for output in outputs:
                    for writer in writers:
                        writer.write(output, msg.t_capture, t_output)
                stream = msg.camera if isinstance(msg, m.Pose2DMessage) else msg.group
                node.stats.frame(stream, msg.t_capture, t_output)
            node.stats.tick()
    finally:
        for writer in writers:
            writer.close()
        close = getattr(processor, "close", None)
        if callable(close):
            close()
