"""Video recording files: one camera's frames in a fragmented MP4, and its frame table.

``<folder>/<camera>.mp4``: H.264 (libx264, constant rate factor ``crf``, x264 ``preset``,
no B-frames so each frame leaves the encoder at once) or MJPEG (quantizer ``jpeg_q``),
written through PyAV (FFmpeg). The container is fragmented (``frag_keyframe``,
``empty_moov``): a fragment is complete at every keyframe (every ``keyframe_s`` seconds)
and written out at once, so a killed recorder leaves a file that plays up to its last
keyframe. Presentation times are the frames' indices at the camera's nominal rate
(``pts = index``, time base ``1 / rate``), so a frame's time in the video says which row
of the camera's pose table it belongs to, and a frame the recorder never got leaves a
gap in time instead of shifting the frames after it.

``<folder>/<camera>.frames.csv``: one row per frame in the video, in order::

    frame,index,seq,t_capture
    0,57,0,1795795806500383152

``frame`` counts the frames of the video (frame k decodes as the k-th frame), ``index`` is
the source's frame index (the pose table's row), ``seq`` its sequence number (a jump
is a gap: frames the recorder dropped or never received) and ``t_capture`` the capture
stamp in ns, as the frame message carried them. Rows are written when the fragment that
holds their frames is, so after a kill the table and the video still agree.
"""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import numpy as np

from calib.errors import ConfigError, VideoError
from stream import messages as m

TABLE_COLUMNS = ("frame", "index", "seq", "t_capture")
FRAGMENTED = "frag_keyframe+empty_moov+default_base_moof"


def video_path(folder: str | Path, camera: str) -> Path:
    return Path(folder) / f"{camera}.mp4"


def frame_table_path(folder: str | Path, camera: str) -> Path:
    return Path(folder) / f"{camera}.frames.csv"


class VideoRecording:
    """One camera's video file and frame table, open for writing; the frame size comes
    from the first frame. `codec` is ``"h264"`` or ``"mjpeg"``; `rate` the nominal frame
    rate (frames/s) that turns indices into times."""

    def __init__(self, folder: str | Path, camera: str, rate: float, codec: str = "h264",
                 crf: int = 18, preset: str = "veryfast", jpeg_q: int = 3,
                 keyframe_s: float = 1.0, threads: int = 1):
        import av

        self.camera = camera
        self.path = video_path(folder, camera)
        self.table_path = frame_table_path(folder, camera)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rate = Fraction(rate).limit_denominator(1001)
        self.frames = 0  # frames in the video
        self.size: tuple[int, int] | None = None  # (width, height)
        self._rows: list[tuple[int, int, int, int]] = []  # frames not yet in a written fragment
        self._last_index = -1
        if codec == "h264":
            codec_name, pix_fmt = "libx264", "yuv420p"
            options = {"crf": str(crf), "preset": preset, "tune": "zerolatency"}
        elif codec == "mjpeg":
            codec_name, pix_fmt = "mjpeg", "yuvj420p"
            options = {"qmin": str(jpeg_q), "qmax": str(jpeg_q)}
        else:
            raise ConfigError(f"{self.path}: unknown codec {codec!r}; choose h264 or mjpeg")
        # flush_packets: a completed fragment goes to the file at once, not when a buffer fills
        self._container = av.open(str(self.path), "w", format="mp4",
                                  options={"movflags": FRAGMENTED, "flush_packets": "1"})
        self._stream = self._container.add_stream(codec_name, rate=self.rate, options=options)
        self._stream.pix_fmt = pix_fmt
        # the muxer picks the stream's own time base when it writes the header: frames
        # keep the codec's, 1 / rate, so that pts = index means what it says
        self._time_base = 1 / self.rate
        self._stream.time_base = self._time_base
        self._stream.codec_context.time_base = self._time_base
        self._stream.codec_context.gop_size = max(1, round(float(self.rate) * keyframe_s))
        self._stream.codec_context.thread_count = threads
        self._table = self.table_path.open("w", newline="", encoding="ascii")
        self._csv = csv.writer(self._table)
        self._csv.writerow(TABLE_COLUMNS)
        self._table.flush()

    def add(self, frame: m.FrameMessage) -> bool:
        """Encode `frame`; False (nothing written) if its size or index does not fit the
        video's (indices must grow: they are the frames' times). An odd width or height
        gets one more column or row, a copy of the last (4:2:0 video needs even sizes;
        pixel coordinates are unchanged)."""
        import av

        height, width = frame.image.shape[:2]
        if self.size is None:
            self.size = (width, height)
            self._stream.width, self._stream.height = width + width % 2, height + height % 2
        if (width, height) != self.size or frame.index <= self._last_index:
            return False
        image = frame.image
        if width % 2 or height % 2:
            image = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        video_frame.pts = frame.index
        video_frame.time_base = self._time_base
        try:
            packets = self._stream.encode(video_frame)
        except av.FFmpegError as exc:
            raise VideoError(f"{self.path}: frame {frame.index}: the encoder failed ({exc})") \
                from exc
        self._rows.append((self.frames, frame.index, frame.seq, frame.t_capture))
        self.frames += 1
        self._last_index = frame.index
        self._mux(packets)
        return True

    def _mux(self, packets) -> None:
        for packet in packets:
            self._container.mux(packet)
            if packet.is_keyframe and len(self._rows) > 1:
                # muxing a keyframe wrote out the fragment of every frame before it
                self._write_rows(len(self._rows) - 1)

    def _write_rows(self, n: int) -> None:
        self._csv.writerows(self._rows[:n])
        self._table.flush()
        del self._rows[:n]

    def close(self) -> None:
        """Encode what the encoder still holds, finish the file and the table."""
        try:
            if self.size is not None:
                self._mux(self._stream.encode())
            self._container.close()
        except Exception as exc:  # FFmpeg raises its own error types
            raise VideoError(f"{self.path}: could not finish the video ({exc})") from exc
        finally:
            self._write_rows(len(self._rows))
            self._table.close()


def read_frame_table(path: str | Path) -> dict[str, np.ndarray]:
    """A frame table's columns as int64 arrays (a torn last line of a killed recorder is
    left out)."""
    path = Path(path)
    rows = []
    with path.open(newline="", encoding="ascii") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(header) != TABLE_COLUMNS:
            raise VideoError(f"{path}: not a frame table (header {header}, "
                             f"expected {list(TABLE_COLUMNS)})")
        for row in reader:
            if len(row) == len(TABLE_COLUMNS) and all(v.lstrip("-").isdigit() for v in row):
                rows.append([int(v) for v in row])
    data = np.asarray(rows, np.int64).reshape(-1, len(TABLE_COLUMNS))
    return {name: data[:, i] for i, name in enumerate(TABLE_COLUMNS)}
