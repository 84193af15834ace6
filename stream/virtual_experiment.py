"""``poseloop experiment``: a rig tried before the animals arrive.

:func:`run_experiment` prepares a working folder for a rig file made like
``examples/virtual_experiment.toml`` (synthetic sources filming the virtual arena through
``calibration.toml``, a processor writing to the serial port ``serial``): it writes the
virtual calibration, trains a small model on another session of the animal unless one
is given, copies the rig file and the example processor, links ``serial`` to a
pseudo-terminal it reads itself, runs the rig for its duration and scores what the rig
recorded against the renderer's exact ground truth (:func:`score_experiment`).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calib.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE_RIG = EXAMPLES / "virtual_experiment.toml"
EXAMPLE_PROCESSOR = EXAMPLES / "roi_processor.py"
SIZE = (320, 240)
TRAIN_SEED = 0  # the training session; the rig's sources film another one
TRIGGER_TOLERANCE = 5  # frames (1/6 s at 30 fps) a trigger may come after the true entry


@dataclass
class ExperimentSummary:
    """What a virtual experiment did, against the ground truth."""

    seconds: float
    frames: dict[str, int]  # per camera, produced by the source
    video_frames: dict[str, int]  # per camera, in its video
    poses: dict[str, int]  # per camera, 2D poses recorded (the rest skipped by inference)
    instants: int  # 3D instants recorded
    complete: int  # of which every camera had a 2D pose
    running: tuple[int, int]  # complete of the instants while every camera ran, and those
    error_mm: tuple[float, float]  # 3D error median, 90th percentile (visible points)
    triggers: int
    entries: int  # true entries of the snout into the region
    matched: int
    wire_ok: bool  # the serial line carried exactly the logged outputs
    latency_3d_ms: tuple[float, float]  # capture to 3D recorded, p50, p99
    latency_output_ms: tuple[float, float]  # capture to trigger written, p50, p99

    def report(self) -> str:
        def per_camera(d: dict[str, int]) -> str:
            return ", ".join(f"{c} {n}" for c, n in d.items())

        produced = sum(self.frames.values())
        in_video = sum(self.video_frames.values())
        posed = sum(self.poses.values())
        precision = self.matched / self.triggers if self.triggers else float("nan")
        recall = self.matched / self.entries if self.entries else float("nan")
        return "\n".join([
            f"wall time: {self.seconds:.1f} s (start-up and shutdown included)",
            f"frames produced: {per_camera(self.frames)}",
            f"video: {per_camera(self.video_frames)} ({produced - in_video} dropped)",
            f"2D poses: {per_camera(self.poses)} ({produced - posed} frames skipped by "
            "inference)",
            f"3D instants: {self.instants}, complete: {self.complete} "
            f"({100 * self.complete / max(1, self.instants):.1f}%); while every camera ran: "
            f"{self.running[0]} of {self.running[1]} "
            f"({100 * self.running[0] / max(1, self.running[1]):.1f}%)",
            f"3D error vs ground truth: median {self.error_mm[0]:.1f} mm, "
            f"90th percentile {self.error_mm[1]:.1f} mm",
            f"triggers: {self.triggers}, true entries: {self.entries}, precision "
            f"{precision:.2f}, recall {recall:.2f} (within {TRIGGER_TOLERANCE} frames); "
            f"serial line {'matches' if self.wire_ok else 'DIFFERS FROM'} the output log",
            f"latency capture -> 3D recorded: p50 {self.latency_3d_ms[0]:.0f} ms, "
            f"p99 {self.latency_3d_ms[1]:.0f} ms",
            f"latency capture -> trigger written: p50 {self.latency_output_ms[0]:.0f} ms, "
            f"p99 {self.latency_output_ms[1]:.0f} ms",
        ])


def train_arena_model(workdir: Path, calibration, minutes: float) -> Path:
    """A model for the rig's cameras: a labeled project of every camera's view of the
    training session, trained with the defaults for `minutes`, exported."""
    from train.model.export import export_network
    from train.model.trainer import train_network
    from train.synth.arena import floor_config, make_arena_project

    project = make_arena_project(workdir, calibration, floor_config(600, 30.0, TRAIN_SEED),
                                 n_labeled=120)
    train_network(project, max_minutes=minutes, seed=TRAIN_SEED)
    return export_network(project)


def prepare(workdir: str | Path, rig_file: str | Path = EXAMPLE_RIG, model: str | Path | None
            = None, minutes: float = 5.0) -> Path:
    """Fill `workdir` for `rig_file`; returns the copied rig file. An existing
    ``model.pt2`` there is reused (so a second run does not train again); an earlier
    run's ``recording`` folder becomes ``recording.1`` (``.2``, ...)."""
    from calib.calibration import save_calibration
    from train.synth.arena import arena_calibration

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    # a rig never writes over a recording: an earlier run's is kept under a new name
    earlier = workdir / "recording"
    if earlier.exists():
        k = 1
        while (workdir / f"recording.{k}").exists():
            k += 1
        earlier.rename(workdir / f"recording.{k}")
    rig = workdir / "rig.toml"
    shutil.copyfile(rig_file, rig)
    shutil.copyfile(EXAMPLE_PROCESSOR, workdir / EXAMPLE_PROCESSOR.name)
    calibration = arena_calibration(["cam0", "cam1", "cam2"], SIZE)
    save_calibration(calibration, workdir / "calibration.toml")
    target = workdir / "model.pt2"
    if model is not None:
        shutil.copyfile(model, target)
    elif not target.exists():
        print(f"training a model for the virtual rig ({minutes:g} min)")
        shutil.copyfile(train_arena_model(workdir / "training", calibration, minutes), target)
    return rig


class PtyReader(threading.Thread):
    """The other end of a pseudo-terminal, read until :meth:`close`."""

    def __init__(self, link: Path):
        super().__init__(daemon=True)
        self.master, self.slave = os.openpty()
        link.unlink(missing_ok=True)
        link.symlink_to(os.ttyname(self.slave))
        self.data = b""
        self.closed = False

    def run(self) -> None:
        import select

        while not self.closed:
            if select.select([self.master], [], [], 0.1)[0]:
                self.data += os.read(self.master, 4096)

    def close(self) -> bytes:
        time.sleep(0.3)  # what the processor wrote last is in the kernel's buffer by now
        self.closed = True
        self.join()
        os.close(self.master)
        os.close(self.slave)
        return self.data


def run_experiment(workdir: str | Path, duration_s: float | None = None,
                   rig_file: str | Path = EXAMPLE_RIG, model: str | Path | None = None,
                   minutes: float = 5.0, print_stats: bool = True) -> ExperimentSummary:
    """Prepare `workdir`, run the rig (for `duration_s`, default the rig file's) and score it."""
    from stream import messages as m
    from stream.processor import output_log_path
    from stream.rig import load_rig
    from stream.supervisor import run_rig

    rig_path = prepare(workdir, rig_file, model, minutes)
    spec = load_rig(rig_path)
    if len(spec.processors) != 1 or len(spec.triangulates) != 1 or len(spec.videos) != 1:
        raise ConfigError(f"{rig_file}: a virtual experiment has one processor, one "
                          "triangulate and one video node")
    # the output log is appended to (a rig's log keeps every run); this run scores its own
    proc = spec.processors[0]
    output_log_path(proc.folder, proc.name).unlink(missing_ok=True)
    pty = PtyReader(Path(proc.serial_port))
    pty.start()
    produced: dict[str, int] = {}

    def on_message(msg: m.Message) -> None:
        # the video recorder's end notices carry each source's last sequence number
        if isinstance(msg, m.EndMessage) and msg.path.endswith(".mp4"):
            produced[msg.camera] = msg.last_seq + 1

    start = time.monotonic()
    try:
        run_rig(rig_path, print_stats=print_stats, duration_s=duration_s, on_message=on_message)
    finally:
        wire = pty.close()
    return score_experiment(spec, produced, wire, time.monotonic() - start)


def _percentiles(values: np.ndarray, q: tuple[float, float]) -> tuple[float, float]:
    if len(values) == 0:
        return (float("nan"), float("nan"))
    return tuple(float(v) for v in np.percentile(values, q))


def score_experiment(spec, produced: dict[str, int], wire: bytes,
                     seconds: float) -> ExperimentSummary:
    """Score what the loaded rig `spec` (:class:`stream.rig.Rig`, loaded before the run:
    a rig file whose recordings exist no longer loads) recorded against the ground truth;
    `produced`: frames each camera's source produced, `wire`: what the serial line
    carried."""
    from calib.calibration import load_calibration
    from stream.outputs import read_output_log
    from stream.processing import match_triggers, region_entries
    from stream.processor import output_log_path
    from stream.recording import read_recording, recording3d_path, recording_path
    from stream.video_recording import frame_table_path
    from train.synth.animal import BODYPARTS, SyntheticAnimal
    from train.synth.arena import ArenaView, floor_config

    source, proc = spec.sources[0], spec.processors[0]
    video, rec = spec.videos[0], spec.recorders[0]
    cameras = [s.camera for s in spec.sources]
    view = ArenaView(load_calibration(source.calibration).camera(source.camera),
                     SyntheticAnimal(floor_config(source.max_frames, source.fps, source.seed)))
    truth, n = view.world(), source.max_frames

    video_frames, poses2d, played, spans = {}, {}, [], []
    for camera in cameras:
        table = _frame_table(frame_table_path(video.folder, camera))
        video_frames[camera] = len(table["index"])
        if len(table["index"]):
            spans.append(table["index"][[0, -1]].tolist())
            played += spans[-1]
        poses2d[camera] = read_recording(recording_path(rec.folder, camera))["index"]
    r3 = read_recording(recording3d_path(rec.folder, spec.triangulates[0].name))
    index = r3["index"]
    complete = np.ones(len(index), bool)
    for camera in cameras:
        complete &= np.isin(index, poses2d[camera])
    # cameras start and stop at different times: instants at the edges cannot be complete
    ran = (index >= max((a for a, _ in spans), default=0)) & (
        index <= min((b for _, b in spans), default=-1))
    clip = index % n
    visible = np.stack([view.animal.visible(i) for i in clip]) if len(clip) else np.zeros((0, 0))
    error = np.linalg.norm(r3["xyz"] - truth[clip], axis=-1)
    error = error[visible & np.isfinite(error)]

    records = read_output_log(output_log_path(proc.folder, proc.name))
    params = proc.params
    k = BODYPARTS.index(params["bodypart"])
    # every tick from the first frame of any camera to the last (ticks before the cameras
    # started are not part of the experiment)
    ticks = np.arange(min(played, default=0), max(played, default=-1) + 1)
    entries = ticks[region_entries(truth[ticks % n, k, :2], params["region"],
                                   params.get("hysteresis_px", 2.0))]
    triggers = [int(r["frame"]) for r in records if r.get("event") == "enter"]
    score = match_triggers(triggers, entries.tolist(), TRIGGER_TOLERANCE)
    out_latency = np.array([r["t_output"] - r["t_capture"] for r in records]) / 1e6
    return ExperimentSummary(
        seconds, {c: produced.get(c, 0) for c in cameras}, video_frames,
        {c: len(p) for c, p in poses2d.items()}, len(index), int(complete.sum()),
        (int((complete & ran).sum()), int(ran.sum())),
        _percentiles(error, (50, 90)), score.triggers, score.entries, score.matched,
        wire.decode(errors="replace").split() == [str(r["value"]) for r in records],
        _percentiles((r3["t_record"] - r3["t_capture"]) / 1e6, (50, 99)),
        _percentiles(out_latency, (50, 99)),
    )


def _frame_table(path: Path) -> dict[str, np.ndarray]:
    from stream.video_recording import read_frame_table

    if not path.exists():
        raise ConfigError(f"{path}: no frame table: the video recorder wrote nothing")
    return read_frame_table(path)
