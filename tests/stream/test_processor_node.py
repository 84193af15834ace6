"""The processor node in a live rig: a user's class on every pose, its outputs on a
pseudo-terminal, in the log and on the publisher, with capture-to-output latency stats."""

import os
import threading

import pytest
import zmq

from calib.errors import ConfigError
from stream import messages as m
from stream.outputs import read_output_log
from stream.processor import output_log_path
from stream.recording import read_recording, recording_path
from stream.rig import load_rig
from stream.supervisor import NodeDied, Supervisor
from tests.stream.test_processing import read_pty

EVERY_POSE = '''
class RightHalf:
    """One output per pose: whether the head is in the right half of the image."""

    def __init__(self, width: int):
        self.width = width

    def process(self, pose):
        x = float(pose.poses[pose.bodyparts.index("head"), 0])
        return {"value": int(x > self.width / 2), "frame": pose.index}
'''


def _rig(tmp_path, model, tty: str = "", body: str = EVERY_POSE, params: str = "width = 320"):
    (tmp_path / "half.py").write_text(body)
    serial = f'serial_port = "{tty}"\n' if tty else ""
    path = tmp_path / "rig.toml"
    path.write_text(
        'mode = "live"\n'
        '[[source]]\nname = "cam0"\nkind = "synthetic"\nfps = 30\nmax_frames = 40\nseed = 2\n'
        f'[[inference]]\nname = "pose"\nmodel = "{model}"\ninputs = ["cam0"]\n'
        "batch_size = 1\nthreads = 1\n"
        '[[recorder]]\nname = "rec"\ninputs = ["pose"]\nfolder = "rec"\ntables = false\n'
        '[[processor]]\nname = "half"\ninputs = ["pose"]\nfile = "half.py"\n'
        f'class_name = "RightHalf"\nparams = {{ {params} }}\nfolder = "rec"\n' + serial
    )
    return path


def _subscribe(endpoint: str, received: list, done: threading.Event) -> threading.Thread:
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"output.")
    sock.connect(endpoint)

    def run():
        while not done.is_set():
            if sock.poll(50):
                received.append(m.decode(sock.recv_multipart()))
        sock.close(0)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_processor_node_writes_every_output_to_serial_log_and_publisher(tmp_path, tiny_model):
    master, slave = os.openpty()
    rig = load_rig(_rig(tmp_path, tiny_model, os.ttyname(slave)))
    stats, published, done = [], [], threading.Event()
    listener = _subscribe(rig.processors[0].endpoint, published, done)
    on_message = lambda msg: stats.append(msg) if isinstance(msg, m.StatsMessage) else None  # noqa: E731
    try:
        Supervisor(rig.nodes(), rig.supervisor_endpoint, 0.5, on_message,
                   print_stats=False).run()
        wire = read_pty(master).decode().split()
    finally:
        done.set()
        listener.join()
        os.close(master)
        os.close(slave)
    poses = read_recording(recording_path(tmp_path / "rec", "cam0"))
    records = read_output_log(output_log_path(tmp_path / "rec", "half"))
    # the processor saw every pose the recorder did, and its outputs are the class's own
    assert [r["frame"] for r in records] == poses["index"].tolist()
    head = poses["poses"][:, poses["bodyparts"].index("head"), 0]
    assert [r["value"] for r in records] == [int(x > 160) for x in head]
    assert [r["t_capture"] for r in records] == poses["t_capture"].tolist()
    assert all(r["t_output"] >= r["t_capture"] for r in records)
    assert wire == [str(r["value"]) for r in records]
    outputs = [p for p in published if isinstance(p, m.OutputMessage)]
    assert [o.values["frame"] for o in outputs] == [r["frame"] for r in records][-len(outputs):]
    assert len(outputs) >= len(records) // 2  # a late subscriber misses the first ones only
    latency = [s for s in stats if s.node == "half" and s.fps > 0]
    assert latency and all(0 < s.p50_ms <= s.p99_ms for s in latency)


def test_processor_that_raises_stops_the_rig_naming_its_file(tmp_path, tiny_model):
    body = EVERY_POSE.replace('return {"value"', 'raise ZeroDivisionError("x")\n        return {"v')
    rig = load_rig(_rig(tmp_path, tiny_model, body=body))
    with pytest.raises(NodeDied, match="half"):
        Supervisor(rig.nodes(), rig.supervisor_endpoint, print_stats=False).run()


@pytest.mark.parametrize(("change", "error"), [
    ({"body": "x = 1\n"}, "no class 'RightHalf'"),
    ({"params": "depth = 3"}, "RightHalf"),
])
def test_processor_rig_errors_are_one_line(tmp_path, tiny_model, change, error):
    from stream.processing import load_processor

    rig = load_rig(_rig(tmp_path, tiny_model, **change))
    spec = rig.processors[0]
    with pytest.raises(ConfigError, match=error):
        load_processor(spec.file, spec.class_name, spec.params)


def test_processor_file_that_does_not_exist_is_named(tmp_path, tiny_model):
    path = _rig(tmp_path, tiny_model)
    path.write_text(path.read_text().replace('file = "half.py"', 'file = "gone.py"'))
    with pytest.raises(ConfigError, match=r"processor\[0\] \(half\): field 'file'"):
        load_rig(path)
