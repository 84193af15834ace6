"""Several synthetic animals in one arena, with exact per-individual ground truth.

Each animal walks, turns, rolls its head and rears as :class:`SyntheticAnimal` does, from
its own seed, inside the same box, so their paths cross; when they meet they touch and
one covers the other. Who is on top changes over time (a rearing animal is on top,
otherwise a slowly turning priority decides). A keypoint is hidden when its pixel is
covered by an animal drawn later (coverage measured by drawing that animal over black
and over white: a pixel it fully covers reads the same in both) or, as for one animal,
under another part of its own body. With ``distinct`` every animal wears a spot of its
own color on its back (:data:`train.synth.look.MARKS`), so looks tell them apart.

numpy and OpenCV only; no torch.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import cv2
import numpy as np

from calib.errors import ConfigError
from train.synth import look
from train.synth.animal import BODYPARTS, SynthConfig, SyntheticAnimal

if TYPE_CHECKING:
    from train.data.keypoints import Poses2D

MAX_ANIMALS = len(look.MARKS)
PRIORITY_PERIOD_S = 9.0  # how fast "who is on top" turns over when no one rears


def individual_names(n: int) -> tuple[str, ...]:
    """``animal1 .. animalN``."""
    return tuple(f"animal{i + 1}" for i in range(n))


def _animal_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0] % 2**31)


class SyntheticHerd:
    """`n_animals` animals of `config` in one clip; same interface as
    :class:`SyntheticAnimal` with an individual axis: ``keypoints(i)`` is ``(I, K, 2)``,
    ``visible(i)`` ``(I, K)``, ``poses()`` ``(frames, I, K, 3)``."""

    def __init__(self, config: SynthConfig, n_animals: int, distinct: bool = False):
        if not isinstance(n_animals, int) or not 1 <= n_animals <= MAX_ANIMALS:
            raise ConfigError(f"animals must be an integer in [1, {MAX_ANIMALS}], got "
                              f"{n_animals!r}")
        self.config = config
        self.distinct = distinct
        self.individuals = individual_names(n_animals)
        self.animals = [
            SyntheticAnimal(dataclasses.replace(config, seed=_animal_seed(config.seed, a)),
                            look.MARKS[a] if distinct else None)
            for a in range(n_animals)]
        # the scene (floor, light, noise) is the first animal's
        self._scene = self.animals[0]
        rng = np.random.default_rng([config.seed, 7919])
        t = np.arange(config.n_frames) / config.fps
        phase = rng.uniform(0, 2 * np.pi, n_animals)
        priority = np.sin(2 * np.pi * t[:, None] / PRIORITY_PERIOD_S + phase[None, :])
        rear = np.stack([a.rear for a in self.animals], axis=1)
        self._order = np.argsort(priority + 3.0 * rear, axis=1, kind="stable")  # bottom first
        self._visible = np.zeros((config.n_frames, n_animals, len(BODYPARTS)), bool)
        self._known = np.zeros(config.n_frames, bool)
        self._contact = np.zeros(config.n_frames, bool)

    def __len__(self) -> int:
        return self.config.n_frames

    def keypoints(self, i: int) -> np.ndarray:
        """``(I, K, 2)`` float64 x, y of frame `i` in pixels (pixel centers at integers)."""
        return np.stack([a.keypoints(i) for a in self.animals])

    def order(self, i: int) -> np.ndarray:
        """Indices of the animals in drawing order (the last is on top) on frame `i`."""
        return self._order[self._scene._check(i)].copy()

    def _coverage(self, animal: SyntheticAnimal, i: int) -> np.ndarray:
        """``(H, W)`` bool: pixels `animal` covers by more than half on frame `i`."""
        h, w = self.config.height, self.config.width
        dark = np.zeros((h, w, 3), np.uint8)
        bright = np.full((h, w, 3), 255, np.uint8)
        animal.draw(dark, i)
        animal.draw(bright, i)
        b, g, r = cv2.split(cv2.subtract(bright, dark))  # how much background shows through
        return cv2.max(cv2.max(b, g), r) < 128

    def _occlusion(self, i: int) -> None:
        """Visibility and contact of frame `i` (computed once, when first asked)."""
        if self._known[i]:
            return
        order = self._order[i]
        covers = {int(a): self._coverage(self.animals[a], i) for a in order}
        vis = np.stack([a.visible(i) for a in self.animals])
        kp = np.round(self.keypoints(i)).astype(int)
        h, w = self.config.height, self.config.width
        for rank, a in enumerate(order):
            above = order[rank + 1:]
            for k in range(kp.shape[1]):
                x, y = np.clip(kp[a, k], 0, [w - 1, h - 1])
                if any(covers[int(b)][y, x] for b in above):
                    vis[a, k] = False
        total = sum(c.astype(np.int16) for c in covers.values())
        self._contact[i] = bool((total > 1).any())
        self._visible[i], self._known[i] = vis, True

    def visible(self, i: int) -> np.ndarray:
        """``(I, K)`` bool: False where a part is hidden, by another animal or its own body."""
        i = self._scene._check(i)
        self._occlusion(i)
        return self._visible[i].copy()

    def contact(self, i: int) -> bool:
        """True when two animals touch or overlap on frame `i`."""
        i = self._scene._check(i)
        self._occlusion(i)
        return bool(self._contact[i])

    def poses(self) -> Poses2D:
        """The whole clip's ground truth ``(frames, I, K, 3)``: likelihood 1 visible, 0
        hidden."""
        from train.data.keypoints import Poses2D

        kp = np.stack([a.poses().data[..., :2] for a in self.animals], axis=1)
        vis = np.stack([self.visible(i) for i in range(len(self))])
        return Poses2D(BODYPARTS, np.concatenate([kp, vis[..., None]], -1), self.individuals)

    def render(self, i: int) -> np.ndarray:
        """``(H, W, 3)`` uint8 BGR frame `i` (before video compression)."""
        img = self._scene.background()
        for a in self.order(i):
            self.animals[a].draw(img, i)
        return self._scene.finish(img, i)


def make_scene(config: SynthConfig, animals: int = 1,
               distinct: bool = False) -> SyntheticAnimal | SyntheticHerd:
    """One animal (the single-animal clip as before) or a herd of `animals`."""
    if animals == 1 and not distinct:
        return SyntheticAnimal(config)
    return SyntheticHerd(config, animals, distinct)

