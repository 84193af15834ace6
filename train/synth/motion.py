"""Motion of the synthetic animal: where its neck walks, how its head and tail move.

Everything is simulated once for the whole clip from the seed, so that any frame can
be rendered on its own (random access) and two runs give the same bytes. Units are
pixels and frames; the walk is confined to a box so the drawn animal stays inside the
frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Motion:
    """The simulated clip. Arrays indexed by frame have ``n`` rows.

    ``path`` holds the neck's positions over warm-up and clip, ``(warmup + n, 2)``,
    with ``arc`` its cumulative length in pixels; frame ``i`` is ``path[warmup + i]``.
    """

    path: np.ndarray          # (warmup + n, 2) px
    arc: np.ndarray           # (warmup + n,) px, non-decreasing
    warmup: int
    head_yaw: np.ndarray      # (n,) rad, head direction relative to the walking direction
    head_roll: np.ndarray     # (n,) in [-1, 1]: > 0 tucks the left ear under the head
    rear: np.ndarray          # (n,) in [0, 1]: 1 = fully reared (head up, toward the camera)
    gait_phase: np.ndarray    # (n,) rad, advances with distance walked
    tail_phase: np.ndarray    # (n,) rad, advances with time and distance

    def arc_at(self, i: np.ndarray | int) -> np.ndarray:
        return self.arc[self.warmup + np.asarray(i)]


def _ou(rng: np.random.Generator, n: int, tau: float, std: float) -> np.ndarray:
    """Ornstein-Uhlenbeck noise: stationary, std `std`, correlation time `tau` frames."""
    a = np.exp(-1.0 / max(tau, 1e-6))
    kicks = rng.standard_normal(n) * std * np.sqrt(1 - a * a)
    out = np.empty(n)
    x = rng.standard_normal() * std
    for t in range(n):
        x = a * x + kicks[t]
        out[t] = x
    return out


def _events(rng: np.random.Generator, n: int, rate: float, duration: float,
            signed: bool) -> np.ndarray:
    """Smooth bumps (raised cosines of `duration` frames) starting at a Poisson `rate`
    per frame; amplitude 0.8..1, random sign if `signed`; clipped to [-1, 1]."""
    out = np.zeros(n)
    if rate <= 0:
        return out
    d = max(int(duration), 2)
    bump = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(d) / (d - 1))
    for start in np.flatnonzero(rng.random(n) < rate):
        amp = rng.uniform(0.8, 1.0) * (rng.choice([-1.0, 1.0]) if signed else 1.0)
        stop = min(n, start + d)
        out[start:stop] += amp * bump[: stop - start]
    return np.clip(out, -1.0, 1.0)


def simulate(rng: np.random.Generator, n: int, fps: float, box: tuple[float, float, float, float],
             speed: float, trail: float, occlusion: float) -> Motion:
    """Walk the neck inside ``box = (x0, y0, x1, y1)`` for `n` frames.

    `speed` is the mean walking speed in px/s; `trail` the length in px the body and
    tail occupy behind the neck (the warm-up walks at least that far first, so the
    body is laid out along a real path from frame 0). `occlusion` scales how often the
    head rolls (hiding an ear) and the animal rears (hiding the neck); 0 turns both off.
    """
    x0, y0, x1, y1 = box
    step = speed / fps
    warmup = int(np.ceil(1.3 * trail / (0.5 * step))) + 1
    total = warmup + n
    center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])

    rear = np.concatenate([np.zeros(warmup),
                           np.abs(_events(rng, n, 0.15 * occlusion / fps, 1.8 * fps, False))])
    pace = np.clip(1.0 + 0.7 * _ou(rng, total, 2.0 * fps, 1.0), 0.0, 1.8)
    pace[:warmup] = np.maximum(pace[:warmup], 0.5)
    pace *= 1.0 - np.clip(2.0 * rear, 0.0, 1.0)  # a rearing animal stands still
    wander = _ou(rng, total, 0.8 * fps, 1.4) / fps  # rad per frame
    max_turn = 3.5 / fps
    look = 0.35 * trail

    path = np.empty((total, 2))
    p = center.copy()
    heading = rng.uniform(-np.pi, np.pi)
    for t in range(total):
        ahead = p + look * np.array([np.cos(heading), np.sin(heading)])
        if not (x0 < ahead[0] < x1 and y0 < ahead[1] < y1):
            # about to reach a wall: turn toward the middle of the box
            want = np.arctan2(*(center - p)[::-1])
            turn = np.clip(np.angle(np.exp(1j * (want - heading))), -max_turn, max_turn)
        else:
            turn = np.clip(wander[t], -max_turn, max_turn)
        heading += turn
        p = p + pace[t] * step * np.array([np.cos(heading), np.sin(heading)])
        p = np.clip(p, [x0, y0], [x1, y1])
        path[t] = p
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))])

    clip_arc = arc[warmup:]
    stride = 0.35 * trail
    seconds = np.arange(n) / fps
    yaw = 0.3 * _ou(rng, n, 0.7 * fps, 1.0) + 0.9 * _events(rng, n, 0.15 / fps, 1.2 * fps, True)
    return Motion(
        path=path,
        arc=arc,
        warmup=warmup,
        head_yaw=np.clip(yaw, -1.2, 1.2),
        head_roll=_events(rng, n, 0.25 * occlusion / fps, 1.0 * fps, True),
        rear=rear[warmup:],
        gait_phase=2 * np.pi * clip_arc / stride,
        tail_phase=2 * np.pi * (0.6 * seconds + 0.5 * clip_arc / stride),
    )


def along_path(motion: Motion, back: np.ndarray, lateral: np.ndarray) -> np.ndarray:
    """Points `back` px of path behind the neck, shifted `lateral` px to the animal's left.

    `back` and `lateral` are ``(n, m)``; returns ``(n, m, 2)``. The left normal of a
    direction ``(cos a, sin a)`` in image coordinates (y down, seen from above) is
    ``(sin a, -cos a)``.
    """
    n = back.shape[0]
    target = motion.arc_at(np.arange(n))[:, None] - back
    pts = np.stack([np.interp(target, motion.arc, motion.path[:, k]) for k in (0, 1)], -1)
    ahead = np.stack([np.interp(target + 1.0, motion.arc, motion.path[:, k]) for k in (0, 1)], -1)
    behind = np.stack([np.interp(target - 1.0, motion.arc, motion.path[:, k]) for k in (0, 1)], -1)
    tangent = ahead - behind
    tangent /= np.maximum(np.linalg.norm(tangent, axis=-1, keepdims=True), 1e-9)
    left = np.stack([tangent[..., 1], -tangent[..., 0]], -1)
    return pts + lateral[..., None] * left


def heading_at(motion: Motion, back: float = 0.0) -> np.ndarray:
    """``(n,)`` walking direction (rad) at `back` px behind the neck."""
    n = len(motion.head_yaw)
    b = np.full((n, 1), back)
    front = along_path(motion, b - 1.0, np.zeros((n, 1)))[:, 0]
    rear = along_path(motion, b + 1.0, np.zeros((n, 1)))[:, 0]
    d = front - rear
    return np.arctan2(d[:, 1], d[:, 0])
