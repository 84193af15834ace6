"""What a job tells its user: one progress display for the whole job (videos done,
frames/s, ETA) and a summary table at the end (per video: frames, frames/s, status,
error)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass
class VideoResult:
    video: Path
    table: Path | None = None
    frames: int = 0
    seconds: float = 0.0  # worker time spent on the video (0 when skipped)
    status: str = ""
    error: str = ""
    retries: int = 0  # ranges given to a fresh worker after one died
    missing: list[int] = field(default_factory=list)  # frames that did not decode: NaN rows

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class JobTiming:
    """Where a job's time went, for benchmarks (filled in by :func:`analyze_job`)."""

    wall_s: float = 0.0  # the whole job, finding videos to the last table
    start_s: float = 0.0  # starting or joining Ray
    load_s: list[float] = field(default_factory=list)  # model load of each worker start
    workers: int = 0  # Ray workers used (0: this machine's pipeline)


@dataclass
class JobProgress:
    """The job's one display, fed with frames and finished videos as they come."""

    videos: int
    frames: int
    enabled: bool = True
    done: int = 0
    bar: tqdm = field(init=False)

    def __post_init__(self) -> None:
        self.bar = tqdm(
            total=self.frames,
            unit="frame",
            desc=self._desc(),
            disable=not self.enabled,
            dynamic_ncols=True,
            smoothing=0.1,
        )

    def _desc(self) -> str:
        return f"videos {self.done}/{self.videos}"

    def frames_done(self, n: int) -> None:
        self.bar.update(n)

    def video_done(self) -> None:
        self.done += 1
        self.bar.set_description_str(self._desc())

    def close(self) -> None:
        self.bar.close()


def missing_note(result: VideoResult) -> str:
    """What a result says about frames that did not decode ("" when none did not)."""
    from train.data.video import frame_ranges

    if not result.missing:
        return ""
    return (f"{len(result.missing)} of {result.frames} frames could not be decoded; their "
            f"rows are NaN: {frame_ranges(result.missing)}")


def summary_table(results: list[VideoResult]) -> str:
    """The per-video table printed at the end of a job, with a closing count line."""
    rows = [("video", "frames", "frames/s", "status", "error")]
    for r in results:
        fps = "" if r.status != DONE else f"{r.fps:.1f}"
        status = r.status + (f" (retried {r.retries})" if r.retries else "")
        rows.append((str(r.video), str(r.frames), fps, status, r.error or missing_note(r)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join([row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].rjust(widths[2]),
                   row[3].ljust(widths[3]), row[4]]).rstrip()
        for row in rows
    ]
    counts = {s: sum(r.status == s for r in results) for s in (DONE, SKIPPED, FAILED)}
    lines.append(f"{counts[DONE]} done, {counts[SKIPPED]} skipped (complete), "
                 f"{counts[FAILED]} failed")
    return "\n".join(lines)
