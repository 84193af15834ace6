"""The human side of the loop: frames to label, the labeler, label checks, outlier frames,
refinement and merging."""
