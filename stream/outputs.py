"""Where a closed-loop processor's outputs go: a serial port (TTL boards, Arduinos), a
log of every output, and a ZeroMQ publisher (:class:`stream.messages.OutputMessage`).

An output is a flat map of names to numbers or strings chosen by the user's processor
(``{"value": 1, "event": "enter"}``), stamped with the capture time of the pose that
caused it and the time it was written. Each writer has ``write(output, t_capture,
t_output)`` and ``close()``; none of them ever blocks the processor for long.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import IO

from calib.errors import ConfigError

log = logging.getLogger(__name__)

Value = int | float | str | bool


def check_output(output: object, where: str) -> dict[str, Value]:
    """`output` as a flat ``{name: number | string}`` map, or a ConfigError naming `where`."""
    if not isinstance(output, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float, str, bool)) for k, v in output.items()
    ):
        raise ConfigError(
            f"{where}: an output must be a dict of names to numbers or strings, got {output!r:.80}"
        )
    return output


class SerialWriter:
    """Writes ``template.format(**output)`` to a serial port for every output.

    The default template ``"{value}\\n"`` sends the output's ``value`` as ASCII followed
    by a newline, what an Arduino sketch reads with ``Serial.parseInt()``. A write that
    the port cannot take within `write_timeout_s` is counted in ``dropped``.
    """

    def __init__(self, port: str, baudrate: int = 115200, template: str = "{value}\n",
                 write_timeout_s: float = 0.01):
        import serial

        self.port = port
        self.template = template
        try:
            self.serial = serial.Serial(port, baudrate=baudrate, timeout=0,
                                        write_timeout=write_timeout_s)
        except (serial.SerialException, ValueError) as exc:
            raise ConfigError(f"serial port {port!r}: cannot open it ({exc})") from exc
        self.dropped = 0

    def write(self, output: dict[str, Value], t_capture: int, t_output: int) -> None:
        import serial

        try:
            data = self.template.format(**output).encode()
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"serial port {self.port!r}: template {self.template!r} does not fit output "
                f"{output} ({type(exc).__name__}: {exc})"
            ) from exc
        try:
            self.serial.write(data)
        except serial.SerialTimeoutException:
            self.dropped += 1

    def close(self) -> None:
        self.serial.close()


class PublisherWriter:
    """Publishes every output as an :class:`~stream.messages.OutputMessage` on `endpoint`
    (a ZeroMQ PUB socket bound by the processor's bus; topic ``output.<node>``). It never
    blocks: a subscriber too slow to take the outputs loses them, the processor goes on."""

    def __init__(self, bus, endpoint: str, node: str):
        from stream.bus import offer

        self._offer = offer
        self.node = node
        self.sock = bus.output("live", endpoint)
        self.seq = 0

    def write(self, output: dict[str, Value], t_capture: int, t_output: int) -> None:
        from stream.messages import OutputMessage

        self._offer(self.sock, OutputMessage(self.node, self.seq, t_capture, t_output, output))
        self.seq += 1

    def close(self) -> None:
        """The socket closes with the processor's bus."""


class LogWriter:
    """One JSON line per output: ``{"t_capture": ns, "t_output": ns, **output}``, flushed
    at once, so the log is complete up to the last output even if the process is killed."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = self.path.open("a", encoding="utf-8")

    def write(self, output: dict[str, Value], t_capture: int, t_output: int) -> None:
        line = json.dumps({"t_capture": t_capture, "t_output": t_output, **output})
        self._file.write(line + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_output_log(path: str | Path) -> list[dict[str, Value]]:
    """The records of a :class:`LogWriter` file; a torn last line (a killed process) is
    left out."""
    records = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s: line %d is not JSON (torn write?): left out", path, n)
    return records
