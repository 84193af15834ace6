"""Synthetic data with exact ground truth: an articulated animal walking over a textured
floor, rendered to video and to a labeled project."""
