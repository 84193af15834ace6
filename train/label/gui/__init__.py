"""Qt windows of the offline workflow (imported only by ``poseloop label`` / ``refine``)."""
