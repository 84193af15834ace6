"""The runtime: ZeroMQ-linked processes for live and batch pose estimation, and the
``poseloop`` command."""
