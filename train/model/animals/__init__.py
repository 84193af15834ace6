"""Several animals in one frame (DeepLabCut's multi-animal projects): top-down (the
default: an animal finder, then the pose network on a crop around each animal) and
bottom-up (one network, parts assembled into animals), their training, evaluation as
DeepLabCut's benchmark reports it (matched RMSE, OKS mAP) and export."""
