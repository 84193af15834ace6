"""Shared by the calibration commands: calib's own errors reported like poseloop's."""

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def calib_errors() -> Iterator[None]:
    """Re-raise :class:`calib.errors.CalibrationError` as a ConfigError, which the CLI
    prints as a one-line error (calib cannot import train's exceptions)."""
    from calib.errors import CalibrationError
    from train.errors import ConfigError

    try:
        yield
    except CalibrationError as exc:
        raise ConfigError(str(exc)) from exc
