"""How the synthetic animal looks: colors, the floor, the light, the noise, and the
OpenCV drawing of its tail, body and head.

Coordinates are drawn with OpenCV's sub-pixel ``shift`` (1/16 px), pixel centers at
integers, so what is drawn sits exactly where the ground truth says.
"""

from __future__ import annotations

import cv2
import numpy as np

SHIFT = 4  # OpenCV sub-pixel bits: coordinates on a 1/16 px grid
SCALE = 1 << SHIFT
_AA = cv2.LINE_AA
_HEAD_POLY = 32

# BGR colors: head, body, ears and tail tip differ so a small network can tell them apart
BODY_FRONT = np.array([70, 105, 150.0])
BODY_BACK = np.array([55, 75, 110.0])
COLLAR = (40, 190, 230)       # neck marking
SADDLE = (200, 120, 40)       # spine marking
RUMP = (150, 60, 160)         # tail-base marking
TAIL = (110, 130, 170)
TAIL_TIP = (245, 245, 245)
HEAD = (140, 180, 215)
EAR = (60, 140, 250)
EYE = (20, 20, 20)
NOSE = (200, 100, 255)
# identity marks of animals told apart (``--distinct``): strong, well separated hues
MARKS = ((40, 40, 230), (60, 200, 60), (230, 90, 30), (30, 220, 230), (220, 60, 220),
         (250, 250, 250), (15, 15, 15), (130, 130, 130))


def quantize(x: np.ndarray) -> np.ndarray:
    """Round pixel coordinates to the 1/16 px drawing grid (exact in float32 too)."""
    return np.round(x * SCALE) / SCALE


def fixed(x: np.ndarray) -> tuple[int, ...] | np.ndarray:
    """Pixel coordinates as OpenCV fixed-point integers (a tuple for one point)."""
    out = np.round(np.asarray(x) * SCALE).astype(np.int32)
    return tuple(int(v) for v in out) if out.ndim == 1 else out


def left_of(u: np.ndarray) -> np.ndarray:
    """Animal's left of a direction in image coordinates (y down, seen from above)."""
    return np.stack([u[..., 1], -u[..., 0]], -1)


def head_halfwidth(a: np.ndarray, hw: np.ndarray | float) -> np.ndarray:
    """Half-width of the head at axial position `a` in [-1 back, 1 snout]: an ellipse
    narrowed toward the snout; `hw` is the widest half-width."""
    a = np.clip(a, -1.0, 1.0)
    return hw * (1.0 - 0.45 * np.maximum(a, 0.0)) * np.sqrt(1.0 - a * a)


def floor(rng: np.random.Generator, width: int, height: int, texture: float) -> np.ndarray:
    """A textured floor ``(H, W, 3)`` uint8: a gradient, blurred noise at two scales and
    soft blobs; `texture` scales the contrast."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / width + np.sin(angle) * yy / height) * 20.0
    fine = cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32), (0, 0), 1.5)
    coarse = cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32), (0, 0), 8)
    gray = ramp + texture * (25.0 * fine + 120.0 * coarse)
    out = np.empty((height, width, 3), np.float32)
    for c, base in enumerate((120.0, 135.0, 125.0)):
        out[..., c] = base + gray
    blobs = np.zeros_like(out)
    for _ in range(int(12 * texture)):
        center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(3, width // 8)), int(rng.integers(3, height // 8)))
        shade = tuple(float(v) for v in rng.uniform(-35, 35) + rng.uniform(-8, 8, 3))
        cv2.ellipse(blobs, center, axes, float(rng.uniform(0, 180)), 0, 360, shade, -1, _AA)
    out += cv2.GaussianBlur(blobs, (0, 0), 2.0)
    return np.clip(out, 0, 255).astype(np.uint8)


def lighting_schedule(rng: np.random.Generator, n: int, fps: float,
                      amplitude: float) -> np.ndarray:
    """``(n, 3)`` per frame: global gain, and the x and y slopes of a light gradient that
    turns once every 20 s; the gain drifts with periods of 7 s and 2.9 s."""
    t = np.arange(n) / fps
    p1, p2, p3 = rng.uniform(0, 2 * np.pi, 3)
    level = 1.0 + amplitude * (0.6 * np.sin(2 * np.pi * t / 7.0 + p1)
                               + 0.4 * np.sin(2 * np.pi * t / 2.9 + p2))
    direction = p3 + 2 * np.pi * t / 20.0
    return np.stack([level, amplitude * np.cos(direction), amplitude * np.sin(direction)], 1)


def noise_bank(rng: np.random.Generator, n: int, width: int, height: int,
               std: float) -> tuple[np.ndarray, np.ndarray]:
    """Eight signed noise images stored as (+, -) uint8 pairs ``(8, 2, H, W, 3)`` (adding
    and subtracting saturate in OpenCV, cheaper than float noise per frame), and which
    one each of the `n` frames uses."""
    if std <= 0:
        return np.zeros((0, 2, height, width, 3), np.uint8), np.zeros(n, int)
    bank = np.clip(np.round(rng.standard_normal((8, height, width, 3)) * std), -255, 255)
    pairs = np.stack([np.maximum(bank, 0), np.maximum(-bank, 0)], 1).astype(np.uint8)
    return pairs, rng.integers(0, len(pairs), n)


def light(img: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Multiply `img` by ``level + gx * x + gy * y`` with x, y in [-1, 1] over the frame."""
    level, gx, gy = gain
    h, w = img.shape[:2]
    xs = np.linspace(-1, 1, w, dtype=np.float32) * np.float32(gx)
    ys = np.linspace(-1, 1, h, dtype=np.float32) * np.float32(gy)
    field = np.float32(level) + ys[:, None] + xs[None, :]
    return cv2.multiply(img, cv2.merge([field, field, field]), dtype=cv2.CV_8U)


def draw_tail(img: np.ndarray, pts: np.ndarray, thickness: np.ndarray, tip: float) -> None:
    """Tail polyline through ``pts (m, 2)`` with per-segment `thickness` px, and the
    white tip disc of radius `tip` px."""
    pts = fixed(pts)
    for j in range(len(pts) - 1):
        cv2.line(img, tuple(pts[j]), tuple(pts[j + 1]), TAIL,
                 max(1, int(round(thickness[j]))), _AA, SHIFT)
    cv2.circle(img, tuple(pts[-1]), int(round(tip * SCALE)), TAIL_TIP, -1, _AA, SHIFT)


def draw_body(img: np.ndarray, pts: np.ndarray, radii: np.ndarray,
              mark: tuple[int, int, int] | None = None) -> None:
    """Overlapping discs from the neck ``pts[0]`` to the tail base ``pts[-1]`` shading
    from front to back color, with the collar, saddle and rump markings; `mark` (BGR)
    adds a large spot between collar and saddle that tells one animal from another."""
    fx = fixed(pts)
    n = len(pts)
    for j in range(n - 1, -1, -1):  # front discs on top
        color = BODY_FRONT + (BODY_BACK - BODY_FRONT) * j / (n - 1)
        cv2.circle(img, tuple(fx[j]), int(round(radii[j] * SCALE)),
                   tuple(float(v) for v in color), -1, _AA, SHIFT)
    if mark is not None:
        j = n // 4
        cv2.circle(img, tuple(fx[j]), int(round(0.75 * radii[j] * SCALE)), mark, -1, _AA, SHIFT)
    for j, color in ((n - 1, RUMP), (n // 2, SADDLE), (0, COLLAR)):
        cv2.circle(img, tuple(fx[j]), int(round(0.3 * radii[j] * SCALE)), color, -1, _AA, SHIFT)


def draw_head(img: np.ndarray, snout: np.ndarray, ears: np.ndarray, center: np.ndarray,
              u: np.ndarray, half: float, hw: float, sizes: dict[str, float]) -> None:
    """Ears (discs at ``ears (2, 2)``), then the head outline (half-length `half` along
    unit `u`, half-width `hw`), the eyes and the nose disc centered on `snout`."""
    for ear in ears:
        cv2.circle(img, fixed(ear), int(round(sizes["ear"] * SCALE)), EAR, -1, _AA, SHIFT)
    t = np.linspace(0, 2 * np.pi, _HEAD_POLY, endpoint=False)
    a = np.cos(t)
    b = np.sign(np.sin(t)) * head_halfwidth(a, hw)
    outline = center + (half * a)[:, None] * u + b[:, None] * left_of(u)
    cv2.fillPoly(img, [fixed(outline)], HEAD, _AA, SHIFT)
    eye_lat = 0.55 * head_halfwidth(np.array(0.25), hw)
    for side in (1.0, -1.0):
        eye = center + 0.25 * half * u + side * eye_lat * left_of(u)
        cv2.circle(img, fixed(eye), int(round(sizes["eye"] * SCALE)), EYE, -1, _AA, SHIFT)
    cv2.circle(img, fixed(snout), int(round(sizes["nose"] * SCALE)), NOSE, -1, _AA, SHIFT)
