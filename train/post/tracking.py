"""Tracking several animals: per-frame animals (a multi-animal model's slots) -> one
identity per animal over the whole video.

1. **Tracklets**: frame by frame, the animals found are assigned to the open tracklets
   by the Hungarian method on the mean distance between their parts and the parts each
   tracklet predicts (constant velocity per part, from its last two observations), gated
   at ``max_distance`` px; an animal left over starts a tracklet, a tracklet unseen for
   more than ``max_gap`` frames is closed.
2. **Stitching** across occlusions: tracklets, in order of their first frame, are put
   into the ``n`` identity tracks (the project's individuals). A tracklet goes to a
   track that is free when it starts; the cost is the distance from the track's last
   pose, moved on at its last velocity for the gap, to the tracklet's first pose, plus,
   when the model tells individuals apart (``identity: true``), the share of the
   tracklet's frames in which the model named another individual (times
   ``identity_weight`` x ``max_distance``). Tracklets starting together are assigned
   jointly (Hungarian); one that fits no free track (more animals than individuals) is
   dropped if it is shorter than those it competes with.

numpy and SciPy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from calib.errors import DataError
from train.data.keypoints import Poses2D

BIG = 1e9


@dataclass
class TrackConfig:
    max_distance: float = 40.0  # px: farther from a tracklet's guess starts a new tracklet
    max_gap: int = 5  # frames a tracklet may go unseen and still continue
    min_points: int = 2  # parts an animal needs to count as found
    identity_weight: float = 2.0  # identity disagreement cost, in units of max_distance


@dataclass
class Tracklet:
    frames: list[int] = field(default_factory=list)
    poses: list[np.ndarray] = field(default_factory=list)  # (K, 3) each
    slots: list[int] = field(default_factory=list)  # the model's slot (its identity guess)

    @property
    def start(self) -> int:
        return self.frames[0]

    @property
    def end(self) -> int:
        return self.frames[-1]

    def predict(self, frame: int) -> np.ndarray:
        """``(K, 2)`` parts extrapolated from the tracklet's end to `frame`, at constant
        velocity per part (a part seen once stays where it was)."""
        last = self.poses[-1][:, :2]
        if len(self.frames) < 2:
            return last
        step = (last - self.poses[-2][:, :2]) / (self.frames[-1] - self.frames[-2])
        return last + np.where(np.isfinite(step), step, 0.0) * (frame - self.frames[-1])


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(A, B)`` mean distance over the parts both poses have, of ``(A, K, >=2)`` poses
    against ``(B, K, >=2)`` poses; BIG where they share none. One array operation per
    frame: a Python loop over pairs was most of the tracking time."""
    d = np.linalg.norm(a[:, None, :, :2] - b[None, :, :, :2], axis=-1)  # (A, B, K)
    seen = np.isfinite(d)
    n = seen.sum(-1)
    return np.where(n > 0, np.where(seen, d, 0.0).sum(-1) / np.maximum(n, 1), BIG)


def pose_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance over parts both ``(K, >=2)`` poses have; BIG when none."""
    return float(distances(a[None], b[None])[0, 0])


def build_tracklets(poses: np.ndarray, config: TrackConfig) -> list[Tracklet]:
    """Tracklets of per-frame animals ``(F, M, K, 3)``."""
    likely = np.isfinite(poses[..., :2]).all(-1)
    found = likely.sum(-1) >= config.min_points  # (F, M)
    open_: list[Tracklet] = []
    done: list[Tracklet] = []
    for f in range(len(poses)):
        still = [t for t in open_ if f - t.end <= config.max_gap + 1]
        done += [t for t in open_ if f - t.end > config.max_gap + 1]
        open_ = still
        slots = np.flatnonzero(found[f])
        cost = np.full((len(open_), len(slots)), BIG)
        if cost.size:
            cost[:] = distances(np.stack([t.predict(f) for t in open_]), poses[f, slots])
        rows, cols = linear_sum_assignment(cost) if cost.size else ([], [])
        used = set()
        for r, c in zip(rows, cols, strict=True):
            if cost[r, c] <= config.max_distance:
                t = open_[r]
                t.frames.append(f)
                t.poses.append(poses[f, slots[c]])
                t.slots.append(int(slots[c]))
                used.add(c)
        for j, s in enumerate(slots):
            if j not in used:
                open_.append(Tracklet([f], [poses[f, s]], [int(s)]))
    return sorted(done + open_, key=lambda t: (t.start, -len(t.frames)))


def stitch(tracklets: list[Tracklet], n: int, config: TrackConfig,
           identity: bool = False) -> list[list[Tracklet]]:
    """Tracklets -> `n` identity tracks (lists of non-overlapping tracklets in time)."""
    tracks: list[list[Tracklet]] = [[] for _ in range(n)]
    i = 0
    while i < len(tracklets):
        group = [t for t in tracklets[i:] if t.start == tracklets[i].start]
        i += len(group)
        cost = np.full((len(group), n), BIG)
        for g, t in enumerate(group):
            votes = np.bincount(t.slots, minlength=n)[:n] / len(t.slots)
            for k, track in enumerate(tracks):
                if track and track[-1].end >= t.start:
                    continue  # busy
                motion = 0.0 if not track else min(
                    pose_distance(track[-1].predict(t.start), t.poses[0]), 4 * config.max_distance)
                ident = (1.0 - votes[k]) * config.identity_weight * config.max_distance \
                    if identity else 0.0
                cost[g, k] = motion + ident
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols, strict=True):
            if cost[r, c] < BIG:
                tracks[c].append(group[r])
            else:
                _replace_shorter(tracks, group[r])
    return tracks


def _replace_shorter(tracks: list[list[Tracklet]], t: Tracklet) -> None:
    """`t` fits no free track: it takes the place of the shortest tracklet it overlaps
    (cut at its start) when it is longer than that one's remainder, else it is dropped."""
    best, best_len = None, len(t.frames)
    for track in tracks:
        last = track[-1]
        rest = sum(1 for fr in last.frames if fr >= t.start)
        if rest < best_len:
            best, best_len = track, rest
    if best is None:
        return
    last = best[-1]
    keep = [j for j, fr in enumerate(last.frames) if fr < t.start]
    if keep:
        best[-1] = Tracklet([last.frames[j] for j in keep], [last.poses[j] for j in keep],
                            [last.slots[j] for j in keep])
    else:
        best.pop()
    best.append(t)


class OnlineTracker:
    """Live identities, one frame at a time: the frame's animals (a model's slots) are
    assigned to `n` identity tracks by the Hungarian method on the distance to each
    track's constant-velocity guess, gated at ``max_distance``; a track unseen for more
    than ``max_gap`` frames (or never seen) takes any animal left, so an animal that
    reappears gets back a free identity. Row i of what :meth:`update` returns is always
    track i. With `identity` the model's slots already name the individuals: they are
    passed through."""

    def __init__(self, n: int, config: TrackConfig | None = None, identity: bool = False):
        self.config = config or TrackConfig()
        self.identity = identity
        self.tracks = [Tracklet() for _ in range(n)]

    def update(self, frame: int, animals: np.ndarray) -> np.ndarray:
        """``animals (M, K, 3)`` of frame number `frame` -> ``(n, K, 3)`` in track order."""
        n, c = len(self.tracks), self.config
        out = np.full((n, *animals.shape[1:]), np.nan, np.float32)
        if self.identity:
            out[:min(n, len(animals))] = animals[:n]
            return out
        found = np.flatnonzero(np.isfinite(animals[..., :2]).all(-1).sum(-1) >= c.min_points)
        cost = np.full((n, len(found)), BIG)
        stale = np.array([not t.frames or frame - t.end > c.max_gap + 1 for t in self.tracks])
        live = np.flatnonzero(~stale)
        if len(found) and len(live):
            d = distances(np.stack([self.tracks[i].predict(frame) for i in live]),
                          animals[found])
            cost[live] = np.where(d <= c.max_distance, d, BIG)
        # a stale track takes an animal no live track wants, at a fixed price
        cost[stale] = 2 * c.max_distance
        rows, cols = linear_sum_assignment(cost) if cost.size else ([], [])
        for i, j in zip(rows, cols, strict=True):
            if cost[i, j] < BIG:
                t = self.tracks[i]
                if t.frames and frame - t.end > c.max_gap + 1:
                    self.tracks[i] = t = Tracklet()  # restart: old velocity means nothing
                t.frames.append(frame)
                t.poses.append(animals[found[j]])
                t.slots.append(int(found[j]))
                del t.frames[:-2], t.poses[:-2], t.slots[:-2]  # the guess needs two
                out[i] = animals[found[j]]
        return out


def track_poses(poses: Poses2D, individuals: tuple[str, ...] | None = None,
                config: TrackConfig | None = None, identity: bool = False) -> Poses2D:
    """Per-frame animals (a multi-animal model's output table) -> tracked poses with one
    individual per identity track, named `individuals` (default: the table's)."""
    if not poses.multi:
        raise DataError("tracking needs multi-animal poses (an individuals level)")
    config = config or TrackConfig()
    names = tuple(individuals or [i for i in poses.individuals if i != "single"])
    n_animal_parts = len(poses.bodyparts) - len(poses.unique_bodyparts)
    animals = poses.data[:, :len([i for i in poses.individuals if i != "single"]),
                         :n_animal_parts]
    tracks = stitch(build_tracklets(animals, config), len(names), config, identity)
    out = np.full((poses.n_frames, len(names), n_animal_parts, 3), np.nan, np.float32)
    for k, track in enumerate(tracks):
        for t in track:
            out[t.frames, k] = np.stack(t.poses)
    if poses.unique_bodyparts:  # unique parts are not tracked: they are one per frame
        full = np.full((poses.n_frames, len(names) + 1, len(poses.bodyparts), 3), np.nan,
                       np.float32)
        full[:, :-1, :n_animal_parts] = out
        full[:, -1] = poses.data[:, -1]
        return Poses2D(poses.bodyparts, full, (*names, "single"), poses.unique_bodyparts)
    return Poses2D(poses.bodyparts, out, names)


def track_table(table: str | Path, config: TrackConfig | None = None, identity: bool = False,
                individuals: tuple[str, ...] | None = None, csv: bool = False) -> Path:
    """``poseloop track``: an untracked multi-animal analysis table -> its tracked table
    (:func:`tracked_path`, HDF5 key ``tracks`` as DeepLabCut 3 writes it)."""
    from train.data.tables import TRACKS_KEY, read_analysis, tracked_path, write_analysis

    poses, scorer = read_analysis(table)
    if not poses.multi:
        raise DataError(f"{table}: not a multi-animal table (no individuals level)")
    tracked = track_poses(poses, individuals, config, identity)
    return write_analysis(tracked, scorer, tracked_path(table), csv=csv, key=TRACKS_KEY)
