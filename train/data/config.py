"""Project configuration: DeepLabCut's ``config.yaml``, read as is and validated at the edge,
and poseloop's own project keys in ``poseloop.yaml`` beside it.

The file is kept as a round-trip YAML document so that saving it back (after
``add-videos`` or ``merge``) changes only the keys we set and keeps the user's
comments and order, as DeepLabCut does. DeepLabCut 3 refuses a config.yaml with keys
it does not know, so poseloop's own keys (:data:`OWN_KEYS`) live in ``poseloop.yaml``;
a config.yaml that still holds them is read, and saving moves them out.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from calib.errors import ConfigError
from calib.fileio import atomic_path

log = logging.getLogger(__name__)

OWN_FILE = "poseloop.yaml"
OWN_KEYS = ("flip_pairs", "reference_length")
REQUIRED = ("Task", "scorer", "date", "video_sets", "bodyparts", "TrainingFraction", "iteration")


def _yaml() -> YAML:
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    return y


@dataclass
class ProjectConfig:
    """The parts of config.yaml poseloop uses; ``raw`` holds the whole document, ``own``
    the document of poseloop.yaml."""

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
    # multi-animal projects (multianimalproject: true): ``bodyparts`` is then
    # multianimalbodyparts followed by uniquebodyparts (DeepLabCut writes "MULTI!" there)
    multianimal: bool = False
    individuals: tuple[str, ...] = ()
    unique_bodyparts: tuple[str, ...] = ()
    identity: bool = False  # the individuals look different: learn who is who
    # poseloop's own optional keys, from poseloop.yaml
    flip_pairs: tuple[tuple[str, str], ...] = ()
    reference_length: tuple[str, str] | None = None  # [a, b]: PCK at a fraction of |a - b|
    raw: Any = field(default=None, repr=False)
    own: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def label_individuals(self) -> tuple[str, ...]:
        """The individual axis of the project's label tables: the individuals, then
        ``single`` when there are unique bodyparts; empty for a single-animal project."""
        if not self.multianimal:
            return ()
        return self.individuals + (("single",) if self.unique_bodyparts else ())

    @property
    def animal_bodyparts(self) -> tuple[str, ...]:
        """The parts every animal has (all bodyparts for a single-animal project)."""
        return self.bodyparts[:len(self.bodyparts) - len(self.unique_bodyparts)]

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

    @property
    def own_path(self) -> Path:
        return self.root / OWN_FILE

    def set(self, key: str, value: Any) -> None:
        """Set a top-level key in config.yaml, or in poseloop.yaml for poseloop's own keys
        (call :func:`save_config` to write)."""
        (self.own if key in OWN_KEYS else self.raw)[key] = value

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


def _skeleton(path: Path, raw: dict, bodyparts: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The skeleton's pairs of known bodyparts. DeepLabCut's new projects ship placeholder
    edges (``[bodypart1, bodypart2], [objectA, bodypart3]``) that stay after the user
    renames the bodyparts, and DeepLabCut draws around them: we skip them too, with one
    warning naming them, rather than refuse the project."""
    value = raw.get("skeleton") or []
    if not isinstance(value, list):
        raise ConfigError(f"{path}: key 'skeleton' must be a list of [bodypart, bodypart] pairs")
    pairs, skipped = [], []
    for i, pair in enumerate(value):
        if not isinstance(pair, list) or len(pair) != 2:
            raise ConfigError(f"{path}: skeleton[{i}] must be a pair [a, b], got {pair!r}")
        if all(name in bodyparts for name in pair):
            pairs.append((str(pair[0]), str(pair[1])))
        else:
            skipped.append([str(name) for name in pair])
    if skipped:
        log.warning("%s: skeleton entries %s name bodyparts this project lacks; skipped",
                    path, skipped)
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


def _names(path: Path, raw: dict, key: str, allow_empty: bool = False) -> tuple[str, ...]:
    """A list of distinct non-empty names under `key`."""
    value = raw.get(key)
    if value is None and allow_empty:
        return ()
    if not isinstance(value, list) or not (value or allow_empty) or not all(
            isinstance(v, str) and v for v in value):
        raise ConfigError(f"{path}: key '{key}' must be a "
                          f"{'' if allow_empty else 'non-empty '}list of names, got {value!r}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{path}: key '{key}' lists a name twice: {list(value)}")
    return tuple(str(v) for v in value)


def _multianimal(path: Path, raw: dict) -> dict[str, Any]:
    """The multi-animal keys, checked: individuals, multianimalbodyparts,
    uniquebodyparts, identity; ``bodyparts`` becomes the animals' parts + unique parts."""
    individuals = _names(path, raw, "individuals")
    if "single" in individuals:
        raise ConfigError(f"{path}: key 'individuals' must not name 'single' (DeepLabCut's "
                          "individual for the unique bodyparts)")
    multi = _names(path, raw, "multianimalbodyparts")
    unique = _names(path, raw, "uniquebodyparts", allow_empty=True)
    both = sorted(set(multi) & set(unique))
    if both:
        raise ConfigError(f"{path}: {both} listed in both 'multianimalbodyparts' and "
                          "'uniquebodyparts'")
    identity = raw.get("identity")
    if identity is not None and not isinstance(identity, bool):
        raise ConfigError(f"{path}: key 'identity' must be true, false or empty, "
                          f"got {identity!r}")
    return dict(multianimal=True, individuals=individuals, unique_bodyparts=unique,
                identity=bool(identity), bodyparts=multi + unique)


def parse_config(path: Path, raw: Any, own: dict[str, Any] | None = None) -> ProjectConfig:
    """Validate a loaded config.yaml document and poseloop.yaml's (`own`); errors name the
    file and the key."""
    own = {**{k: raw[k] for k in OWN_KEYS if isinstance(raw, dict) and k in raw}, **(own or {})}
    own_source = path.parent / OWN_FILE if (path.parent / OWN_FILE).exists() else path
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, got {type(raw).__name__}")
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise ConfigError(
            f"{path}: missing key '{missing[0]}'"
            + (f" (also {missing[1:]})" if len(missing) > 1 else "")
        )
    multianimal = raw.get("multianimalproject")
    if multianimal is not None and not isinstance(multianimal, bool):
        raise ConfigError(f"{path}: key 'multianimalproject' must be true or false, "
                          f"got {multianimal!r}")
    animals = _multianimal(path, raw) if multianimal else {}
    bodyparts = animals.pop("bodyparts") if animals else _names(path, raw, "bodyparts")
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
        skeleton=_skeleton(path, raw, bodyparts),
        pcutoff=pcutoff,
        numframes2pick=numframes,
        start=float(_typed(path, raw, "start", (int, float), 0.0)),
        stop=float(_typed(path, raw, "stop", (int, float), 1.0)),
        batch_size=int(_typed(path, raw, "batch_size", int, 8)),
        default_net_type=str(raw.get("default_net_type") or "resnet_50"),
        flip_pairs=_pairs(own_source, own, "flip_pairs", bodyparts),
        reference_length=_reference(own_source, own, bodyparts),
        raw=raw,
        **animals,
        own=own,
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
    return parse_config(path, raw, _load_own(path.parent / OWN_FILE))


def _load_own(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        own = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if own is None:
        return {}
    if not isinstance(own, dict) or set(own) - set(OWN_KEYS):
        raise ConfigError(f"{path}: expected a mapping of keys among {list(OWN_KEYS)}")
    return own


def save_config(config: ProjectConfig) -> None:
    """Write both documents back atomically, re-validating them first; poseloop's own keys
    found in config.yaml move to poseloop.yaml, so DeepLabCut can read config.yaml."""
    for key in OWN_KEYS:
        if key in config.raw:
            config.own.setdefault(key, config.raw.pop(key))
    parse_config(config.path, config.raw, config.own)
    with atomic_path(config.path) as tmp:
        tmp.write_text(config.dump())
    if config.own:
        with atomic_path(config.own_path) as tmp:
            tmp.write_text(yaml.safe_dump(_plain(config.own), sort_keys=False))


def _plain(value: Any) -> Any:
    """Lists and dicts of ruamel's round-trip types as plain Python ones, for safe_dump."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, str) else value
