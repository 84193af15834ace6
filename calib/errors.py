"""Calibration errors. calib cannot import train's exceptions (layering), so it has its own,
subclassing the same built-ins; the command wrappers report them like any poseloop error."""


class CalibrationError(ValueError):
    """Bad calibration input (board, detections, calibration file) or a rig that cannot be
    solved; the message names the file, camera, view or field."""
