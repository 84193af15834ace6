"""Several animals in one frame (DeepLabCut's multi-animal projects): the bottom-up
network, its targets, the assembly of parts into animals, training, evaluation as
DeepLabCut's benchmark reports it (matched RMSE, OKS mAP) and export."""
