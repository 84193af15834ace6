"""CPU cost of the video recorder's encoding: four 640x480 cameras at 30 fps.

Encodes ``--seconds`` of video for each of ``--cameras`` cameras with
:class:`stream.video_recording.VideoRecording` at the rig file's defaults (H.264 crf 18
veryfast, one encoder thread per camera; and MJPEG q 3), from real 640x480 frames (the
openfield video's, in memory), and reports the process CPU time per second of recorded
video: the cores the recording needs. CPU time, not wall time, so a shared machine
changes it little; run it with ``measure`` all the same.

    measure python tools/bench_video.py [--video ../shared/data/openfield/videos/m3v1mp4.mp4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stream import messages as m  # noqa: E402
from stream.video_recording import VideoRecording  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path,
                        default=ROOT.parent / "shared/data/openfield/videos/m3v1mp4.mp4")
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()
    cap = cv2.VideoCapture(str(args.video))
    frames = []
    for _ in range(60):
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    if not frames:
        raise SystemExit(f"{args.video}: no frames")
    n = round(args.seconds * args.fps)
    h, w = frames[0].shape[:2]
    print(f"{args.cameras} cameras x {n} frames {w}x{h} ({args.seconds:g} s at {args.fps:g} fps)")
    for codec in ("h264", "mjpeg"):
        with tempfile.TemporaryDirectory(prefix="bench-video-") as d:
            recs = [VideoRecording(d, f"cam{c}", args.fps, codec) for c in range(args.cameras)]
            cpu, wall = time.process_time(), time.perf_counter()
            for i in range(n):
                for c, rec in enumerate(recs):
                    rec.add(m.FrameMessage(f"cam{c}", i, i, i, frames[(i + 7 * c) % len(frames)]))
            for rec in recs:
                rec.close()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            size = sum(p.stat().st_size for p in Path(d).glob("*.mp4"))
        video_s = args.seconds
        print(f"{codec:6} CPU {cpu / video_s:.2f} core-s per s of video "
              f"({1e3 * cpu / (n * args.cameras):.1f} ms per frame), wall {wall:.1f} s, "
              f"{size / (video_s * args.cameras) / 1e3:.0f} kB/s per camera")


if __name__ == "__main__":
    main()
