"""An example closed-loop processor: raises a line while a body part is inside a region.

Named in a rig file by path and class::

    [[processor]]
    name = "roi"
    inputs = ["pose"]
    file = "roi_processor.py"
    class_name = "RegionTrigger"
    params = { bodypart = "snout", region = [100, 60, 220, 180], camera = "cam0" }
    serial_port = "/dev/ttyACM0"   # writes "1\\n" / "0\\n" (serial_template "{value}\\n")
    baudrate = 115200

On 2D poses the region is in the camera's pixels (``camera`` picks one camera of the
input); on 3D instants (a triangulate node's output) it is in world units on the x, y
plane (``camera`` then names the 3D stream, or is left empty), the likelihood being the
triangulation's score.

It outputs ``{"value": 1, "event": "enter", "frame": i}`` when the body part enters the
rectangle and ``{"value": 0, "event": "leave", ...}`` when it leaves, so the serial line
is high exactly while the animal is inside. Points under `pcutoff` leave the state as it
is; `hysteresis_px` (pixels, or world units in 3D) keeps a point sitting on the border
from toggling the line.
"""

from __future__ import annotations

import math


class RegionTrigger:
    def __init__(self, bodypart: str, region: list[float], camera: str = "",
                 pcutoff: float = 0.5, hysteresis_px: float = 2.0):
        if len(region) != 4 or region[0] >= region[2] or region[1] >= region[3]:
            raise ValueError(f"region must be [x0, y0, x1, y1] with x0 < x1, y0 < y1: {region}")
        self.bodypart = bodypart
        self.region = [float(v) for v in region]
        self.camera = camera
        self.pcutoff = pcutoff
        self.hysteresis = hysteresis_px
        self.inside = False

    def _contains(self, x: float, y: float, grow: float) -> bool:
        x0, y0, x1, y1 = self.region
        return x0 - grow <= x <= x1 + grow and y0 - grow <= y <= y1 + grow

    def process(self, pose) -> dict | None:
        three_d = hasattr(pose, "xyz")
        if self.camera and (pose.group if three_d else pose.camera) != self.camera:
            return None
        k = pose.bodyparts.index(self.bodypart)
        if three_d:
            x, y, likelihood = float(pose.xyz[k, 0]), float(pose.xyz[k, 1]), float(pose.score[k])
        else:
            x, y, likelihood = (float(v) for v in pose.poses[k])
        if math.isnan(x) or not likelihood >= self.pcutoff:
            return None
        # entering needs the point inside the rectangle, leaving needs it past the margin
        now = self._contains(x, y, self.hysteresis if self.inside else 0.0)
        if now == self.inside:
            return None
        self.inside = now
        return {"value": int(now), "event": "enter" if now else "leave", "frame": pose.index}
