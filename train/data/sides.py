"""Left/right bodypart pairs: declared in config.yaml (``flip_pairs``) or recognised from the
names (``leftear``/``rightear``, ``left_paw``/``right_paw``, ``Lhand``/``Rhand``,
``hand_l``/``hand_r``, ``FrontLeftPaw``/``FrontRightPaw`` ...). A horizontal flip must swap
them, so that the animal's left ear is still called its left ear."""

from __future__ import annotations

import re

from train.data.config import ProjectConfig

Pair = tuple[str, str]
_SEP = r"[_\-\s.]"
# one-letter sides: a prefix followed by a separator or (upper-case L/R) by a lower-case
# letter, or a suffix after a separator or (upper-case) after a lower-case letter
_LETTER = re.compile(rf"^(?P<p>[lLrR])(?={_SEP})|^(?P<P>[LR])(?=[a-z])"
                     rf"|(?<={_SEP})(?P<s>[lLrR])$|(?<=[a-z])(?P<S>[LR])$")


def _sided(name: str) -> list[tuple[str, str]]:
    """``(side, name with the side replaced by a mark)`` for each way `name` can be read as
    sided; side is "left" or "right"."""
    out = []
    lower = name.lower()
    for word in ("left", "right"):
        for m in re.finditer(word, lower):
            out.append((word, f"{lower[:m.start()]}<>{lower[m.end():]}"))
    for m in _LETTER.finditer(name):
        side = "left" if m.group().lower() == "l" else "right"
        out.append((side, f"{lower[:m.start()]}<{len(m.group())}>{lower[m.end():]}"))
    return out


def recognise_flip_pairs(bodyparts: tuple[str, ...] | list[str]) -> tuple[Pair, ...]:
    """Pairs ``(left name, right name)`` whose names differ only in the side, in bodypart
    order; a name is in at most one pair, and a side word with no partner is no pair."""
    by_key: dict[str, dict[str, str]] = {}
    for name in bodyparts:
        for side, key in _sided(name):
            by_key.setdefault(key, {}).setdefault(side, name)
    pairs, used = [], set()
    for name in bodyparts:
        for side, key in _sided(name):
            sides = by_key[key]
            if side != "left" or "right" not in sides:
                continue
            left, right = sides["left"], sides["right"]
            if left != right and not {left, right} & used:
                pairs.append((left, right))
                used |= {left, right}
    return tuple(pairs)


def flip_pairs(config: ProjectConfig) -> tuple[Pair, ...]:
    """The project's declared ``flip_pairs``, else those recognised from its bodyparts."""
    return config.flip_pairs or recognise_flip_pairs(config.bodyparts)
