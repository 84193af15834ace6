"""The project's exceptions, at the bottom of the dependency order so that every package
raises the same ones. Each subclasses a built-in, and messages name the file, the frame or
the field that is wrong; the ``poseloop`` command prints any of them as one line."""


class PoseloopError(Exception):
    """Base class of every error poseloop raises on purpose."""


class ConfigError(PoseloopError, ValueError):
    """A config.yaml, rig or calibration file is missing a key or has a wrong value."""


class DataError(PoseloopError, ValueError):
    """A labels or analysis table does not fit what the project expects."""


class VideoError(PoseloopError, OSError):
    """A video file is missing, cannot be decoded, or ends early."""


class ModelError(PoseloopError, ValueError):
    """A model artifact or checkpoint is missing, truncated or incompatible."""


class RecordingError(PoseloopError, OSError):
    """A recording cannot be written: the disk is full, or a file of an earlier run is
    where it would go (recordings are never overwritten)."""


class CalibrationError(PoseloopError, ValueError):
    """Bad calibration input (board, detections, calibration file) or a rig that cannot be
    solved; the message names the file, camera, view or field."""
