"""The project's exceptions: each subclasses a built-in, and messages name the file,
the frame or the field that is wrong."""


class PoseloopError(Exception):
    """Base class of every error poseloop raises on purpose."""


class ConfigError(PoseloopError, ValueError):
    """A config.yaml (or rig/calibration file) is missing a key or has a wrong value."""


class DataError(PoseloopError, ValueError):
    """A labels or analysis table does not fit what the project expects."""


class VideoError(PoseloopError, OSError):
    """A video file is missing, cannot be decoded, or ends early."""


class ModelError(PoseloopError, ValueError):
    """A model artifact or checkpoint is missing, truncated or incompatible."""
