"""Batch augmentation on the training device: one affine warp per sample with keypoints
moved alike, then photometric changes and degradations."""
