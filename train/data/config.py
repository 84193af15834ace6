"""Project configuration: DeepLabCut's ``config.yaml``, read as is and validated at the edge.

The file is kept as a round-trip YAML document so that saving it back (after
``add-videos`` or ``merge``) changes only the keys we set and keeps the user's
comments and order, as DeepLabCut does.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from calib.errors import ConfigError
from calib.fileio import atomic_path

REQUIRED = ("Task", "scorer", "date", "video_sets", "bodyparts", "TrainingFraction", "iteration")


def _yaml() -> YAML:
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    return y


@dataclass
class ProjectConfig:
    """The parts of config.yaml poseloop uses; ``raw`` holds the whole document."""

    path: Path
    task: str
    scorer: str
    date: str
    video_sets: dict[str, dict[str, Any]]
    bodyparts: tuple[str, ...]
    training_fraction: tuple[float, ...]
    iteration: int
    skeleton: tuple[tuple[str, str], ...] = ()
    pcutoff: float = 0.6
    numframes2pick: int = 20
    start: float = 0.0
    stop: float = 1.0
    batch_size: int = 8
    default_net_type: str = "resnet_50"
    # poseloop's own optional keys (DeepLabCut ignores unknown keys)
    flip_pairs: tuple[tuple[str, str], ...] = ()
    reference_length: tuple[str, str] | None = None  # [a, b]: PCK at a fraction of |a - b|
    raw: Any = field(default=None, repr=False)

    @property
    def root(self) -> Path:
        return self.path.parent

    def crop(self, video_key: str) -> tuple[int, int, int, int] | None:
        """``(x1, x2, y1, y2)`` of a video's crop in video_sets, or None."""
        entry = self.video_sets.get(video_key) or {}
        value = entry.get("crop") if isinstance(entry, dict) else None
        if value is None:
            return None
        try:
            x1, x2, y1, y2 = (int(float(v)) for v in str(value).split(","))
        except ValueError:
            raise ConfigError(
                f"{self.path}: video_sets[{video_key!r}].crop must be 'x1, x2, y1, y2', "
                f"got {value!r}"
            ) from None
        return x1, x2, y1, y2

    def set(self, key: str, value: Any) -> None:
        """Set a top-level key in the document (call :func:`save_config` to write)."""
        self.raw[key] = value

    def dump(self) -> str:
        buf = io.StringIO()
        _yaml().dump(self.raw, buf)
        return buf.getvalue()


def _typed(path: Path, raw: dict, key: str, kind: type | tuple[type, ...], default: Any = None):
    if key not in raw or raw[key] is None:
        if default is not None:
            return default
        raise ConfigError(f"{path}: missing key '{key}'")
    value = raw[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ConfigError(f"{path}: key '{key}' must be {names}, got {value!r}")
    return value


def _pairs(
    path: Path, raw: dict, key: str, bodyparts: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    value = raw.get(key) or []
    if not isinstance(value, list):
        raise ConfigError(f"{path}: key '{key}' must be a list of [bodypart, bodypart] pairs")
    pairs = []
    for i, pair in enumerate(value):
        if not isinstance(pair, list) or len(pair) != 2:
            raise ConfigError(f"{path}: {key}[{i}] must be a pair [a, b], got {pair!r}")
        for name in pair:
            if name not in bodyparts:
                raise ConfigError(f"{path}: {key}[{i}] names '{name}', which is not in bodyparts")
        pairs.append((str(pair[0]), str(pair[1])))
    return tuple(pairs)


def _reference(path: Path, raw: dict, bodyparts: tuple[str, ...]) -> tuple[str, str] | None:
    value = raw.get("reference_length")
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2 or value[0] == value[1]:
        raise ConfigError(
            f"{path}: key 'reference_length' must be two different bodyparts [a, b], got {value!r}"
        )
    (pair,) = _pairs(path, {"reference_length": [value]}, "reference_length", bodyparts)
    return pair


def parse_config(path: Path, raw: Any) -> ProjectConfig:
    """Validate a loaded config.yaml document; errors name the file and the key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, got {type(raw).__name__}")
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise ConfigError(
            f"{path}: missing key '{missing[0]}'"
            + (f" (also {missing[1:]})" if len(missing) > 1 else "")
        )
    bodyparts = _typed(path, raw, "bodyparts", list)
    if not bodyparts or not all(isinstance(b, str) and b for b in bodyparts):
        raise ConfigError(f"{path}: key 'bodyparts' must be a non-empty list of names")
    if len(set(bodyparts)) != len(bodyparts):
        raise ConfigError(f"{path}: key 'bodyparts' lists a name twice: {list(bodyparts)}")
    bodyparts = tuple(str(b) for b in bodyparts)
    fractions = raw["TrainingFraction"]
    if isinstance(fractions, (int, float)) and not isinstance(fractions, bool):
        fractions = [fractions]
    if not isinstance(fractions, list) or not all(
        isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f <= 1 for f in fractions
    ):
        raise ConfigError(f"{path}: key 'TrainingFraction' must be a list of numbers in (0, 1]")
    video_sets = raw["video_sets"] or {}
    if not isinstance(video_sets, dict):
        raise ConfigError(f"{path}: key 'video_sets' must map video paths to {{crop: ...}}")
    iteration = _typed(path, raw, "iteration", int)
    if iteration < 0:
        raise ConfigError(f"{path}: key 'iteration' must be >= 0, got {iteration}")
    pcutoff = _typed(path, raw, "pcutoff", float, 0.6)
    if not 0 <= pcutoff <= 1:
        raise ConfigError(f"{path}: key 'pcutoff' must be in [0, 1], got {pcutoff}")
    numframes = _typed(path, raw, "numframes2pick", int, 20)
    if numframes <= 0:
        raise ConfigError(f"{path}: key 'numframes2pick' must be > 0, got {numframes}")
    return ProjectConfig(
        path=path,
        task=str(_typed(path, raw, "Task", (str, int))),
        scorer=str(_typed(path, raw, "scorer", (str, int))),
        date=str(_typed(path, raw, "date", (str, int))),
        video_sets={
            str(k): (dict(v) if isinstance(v, dict) else {}) for k, v in video_sets.items()
        },
        bodyparts=bodyparts,
        training_fraction=tuple(float(f) for f in fractions),
        iteration=iteration,
        skeleton=_pairs(path, raw, "skeleton", bodyparts),
        pcutoff=pcutoff,
        numframes2pick=numframes,
        start=float(_typed(path, raw, "start", (int, float), 0.0)),
        stop=float(_typed(path, raw, "stop", (int, float), 1.0)),
        batch_size=int(_typed(path, raw, "batch_size", int, 8)),
        default_net_type=str(raw.get("default_net_type") or "resnet_50"),
        flip_pairs=_pairs(path, raw, "flip_pairs", bodyparts),
        reference_length=_reference(path, raw, bodyparts),
        raw=raw,
    )


def load_config(path: str | Path) -> ProjectConfig:
    """Load and validate ``config.yaml`` (a path to the file or to its folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.yaml"
    if not path.exists():
        raise ConfigError(f"{path}: no such config file")
    try:
        raw = _yaml().load(path.read_text())
    except (YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    return parse_config(path, raw)


def save_config(config: ProjectConfig) -> None:
    """Write the document back atomically, re-validating it first."""
    parse_config(config.path, config.raw)
    with atomic_path(config.path) as tmp:
        tmp.write_text(config.dump())
