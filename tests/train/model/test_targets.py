import torch

from train.model.decode import decode_heatmaps
from train.model.targets import make_targets, pose_loss


def test_targets_decode_back_to_the_labels():
    kp = torch.tensor([[[10.3, 20.7], [55.0, 3.2]], [[0.0, 0.0], [63.9, 47.5]]])
    t = make_targets(kp, (6, 8), stride=8, sigma=6.0, locref_std=7.28, locref_radius=16.0)
    logits = torch.logit(t.heatmap.clamp(1e-6, 1 - 1e-6))
    out = decode_heatmaps(logits, t.locref, stride=8, locref_std=7.28)
    assert torch.allclose(out[..., :2], kp, atol=1e-4)


def test_unlabeled_points_add_no_loss():
    torch.manual_seed(0)
    kp = torch.tensor([[[10.0, 12.0], [float("nan"), float("nan")]]])
    heat = torch.randn(1, 2, 4, 4, requires_grad=True)
    locref = torch.randn(1, 4, 4, 4, requires_grad=True)
    t = make_targets(kp, (4, 4), 8, 6.0, 7.28, 16.0)
    h, lo = pose_loss(heat, locref, t, 1.0)
    (h + lo).backward()
    assert heat.grad[0, 1].abs().max() == 0 and locref.grad[0, 2:].abs().max() == 0
    assert heat.grad[0, 0].abs().max() > 0
    # same loss as the one-keypoint problem
    t1 = make_targets(kp[:, :1], (4, 4), 8, 6.0, 7.28, 16.0)
    h1, lo1 = pose_loss(heat[:, :1], locref[:, :2], t1, 1.0)
    assert torch.allclose(h, h1) and torch.allclose(lo, lo1)
