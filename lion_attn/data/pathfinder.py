"""A generator of the Pathfinder task (Linsley et al., NeurIPS 2018) as used by Long Range Arena (Tay et al., 2021).

Each grey image holds two circular markers and several curved contours, each drawn as a dashed chain of short
straight "paddles". The label says whether the two markers sit on the two ends of the *same* contour (1) or on
ends of two different contours (0). Read pixel by pixel, it is a long-range dependency task: at 32 x 32 the
sequence has 1,024 tokens, and 128 x 128 ("Path-X") has 16,384.

This is an independent implementation from the task's description. Every image has the same ingredients
whatever its label, so only the markers' placement distinguishes the classes:

- two *main* contours of ``contour_length`` paddles each; a positive puts both markers on the ends of the first,
  a negative puts one marker on an end of each;
- ``num_distractors`` short contours of ``distractor_length`` paddles (``contour_length // 3`` paddles, and
  ``20 // distractor_length`` of them, as in LRA's setting);
- a contour grows paddle by paddle: each paddle is ``paddle_length`` long, separated from the previous one by a
  gap of ``paddle_gap`` along the new direction, and turns by an angle drawn uniformly in
  ``+-continuity * 45 degrees``; a paddle that would leave the canvas (``padding`` from the border) or come
  closer than ``clearance`` (edge to edge) to another contour, or cross its own contour, is redrawn;
- the markers (radius ``marker_radius``) are at least ``seed_distance`` apart, centre to centre;
- shapes are rasterised with a one-pixel soft edge at ``antialias`` times the resolution and averaged down;
  paddles have intensity ``paddle_contrast``, markers 1.

LRA's 32 x 32 setting is padding 1, paddle length 2, thickness 0.5, marker radius 1.5, contour length 14
(difficulty presets 6 / 9 / 14), continuity 1.0, seed distance 7 and antialiasing x2, contrast 0.75; the gap
(1 pixel) and the clearance (2.5 pixels) are this generator's choices. :func:`pathfinder_config` scales every
length by ``resolution / 32`` for 64 and 128, keeping the number of paddles.

Examples are deterministic in ``(seed, index)`` (one ``numpy`` generator per example), so they can be made in
parallel in any order; see :mod:`lion_attn.data.pathfinder_cache` for the cached, parallel data set.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

__all__ = [
    "PATHFINDER_DIFFICULTIES",
    "PATHFINDER_RESOLUTIONS",
    "PathfinderConfig",
    "PathfinderError",
    "generate_pathfinder_example",
    "pathfinder_config",
]

#: Difficulty name -> contour length in paddles (LRA's presets).
PATHFINDER_DIFFICULTIES: dict[str, int] = {"easy": 6, "intermediate": 9, "hard": 14}
PATHFINDER_RESOLUTIONS: tuple[int, ...] = (32, 64, 128)
# How often a paddle, a contour and a whole image are redrawn before giving up on them.
_PADDLE_TRIES, _CONTOUR_TRIES, _IMAGE_TRIES = 12, 30, 200
_LOOKAHEAD = 2


class PathfinderError(RuntimeError):
    """The generator could not place every contour (settings too crowded for the canvas)."""


@dataclasses.dataclass(frozen=True)
class PathfinderConfig:
    """Geometry of the Pathfinder images; lengths are in pixels of the output image.

    Attributes:
        resolution: Side of the square image.
        contour_length: Paddles per main contour.
        distractor_length: Paddles per distractor contour (0: ``contour_length // 3``).
        num_distractors: Distractor contours (-1: ``20 // distractor_length``).
        padding: Empty border.
        paddle_length: Length of one paddle.
        paddle_thickness: Width of a paddle.
        paddle_gap: Gap between consecutive paddles of a contour (the dashes).
        marker_radius: Radius of the two markers.
        continuity: Largest turn between consecutive paddles, in units of 45 degrees.
        seed_distance: Smallest distance between the two markers' centres.
        clearance: Smallest edge-to-edge distance between different contours (markers included).
        antialias: Supersampling factor of the rasteriser.
        paddle_contrast: Intensity of paddles in (0, 1]; markers are drawn at 1.
    """

    resolution: int = 32
    contour_length: int = 14
    distractor_length: int = 0
    num_distractors: int = -1
    padding: float = 1.0
    paddle_length: float = 2.0
    paddle_thickness: float = 0.5
    paddle_gap: float = 1.0
    marker_radius: float = 1.5
    continuity: float = 1.0
    seed_distance: float = 7.0
    clearance: float = 2.5
    antialias: int = 2
    paddle_contrast: float = 0.75

    def __post_init__(self) -> None:
        for name in ("resolution", "contour_length", "antialias"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"PathfinderConfig.{name} must be an integer >= 1, got {value!r}")
        if self.contour_length < 2:
            raise ValueError(f"PathfinderConfig.contour_length must be >= 2, got {self.contour_length}")
        for name in ("paddle_length", "paddle_thickness", "marker_radius", "paddle_gap", "clearance"):
            if not getattr(self, name) > 0:
                raise ValueError(f"PathfinderConfig.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("padding", "continuity", "seed_distance"):
            if getattr(self, name) < 0:
                raise ValueError(f"PathfinderConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0 < self.paddle_contrast <= 1:
            raise ValueError(f"PathfinderConfig.paddle_contrast must be in (0, 1], got {self.paddle_contrast!r}")
        if self.distractor_length < 0:
            raise ValueError(f"PathfinderConfig.distractor_length must be >= 0, got {self.distractor_length}")

    @property
    def distractor_paddles(self) -> int:
        """Paddles per distractor (``contour_length // 3`` unless set, at least 1)."""
        return self.distractor_length or max(self.contour_length // 3, 1)

    @property
    def distractors(self) -> int:
        """Number of distractor contours (``20 // distractor_paddles`` unless set)."""
        return self.num_distractors if self.num_distractors >= 0 else 20 // self.distractor_paddles


def pathfinder_config(resolution: int = 32, difficulty: str | int = "hard", **overrides: float) -> PathfinderConfig:
    """LRA's Pathfinder setting at a resolution, with every length scaled by ``resolution / 32``.

    Args:
        resolution: 32, 64 or 128 (Path-X); other sizes are scaled the same way.
        difficulty: ``"easy"`` / ``"intermediate"`` / ``"hard"`` or a contour length (6 / 9 / 14 paddles).
        **overrides: Any other :class:`PathfinderConfig` field, in output pixels (applied after scaling).

    Returns:
        The configuration.
    """
    if isinstance(difficulty, str):
        if difficulty not in PATHFINDER_DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {list(PATHFINDER_DIFFICULTIES)} or an int, got {difficulty!r}")
        length = PATHFINDER_DIFFICULTIES[difficulty]
    else:
        length = int(difficulty)
    if not isinstance(resolution, int) or resolution < 16:
        raise ValueError(f"resolution must be an integer >= 16, got {resolution!r}")
    scale = resolution / 32
    base = PathfinderConfig()
    lengths = ("padding", "paddle_length", "paddle_thickness", "paddle_gap", "marker_radius", "seed_distance")
    fields = {name: getattr(base, name) * scale for name in (*lengths, "clearance")}
    return PathfinderConfig(resolution=resolution, contour_length=length, **{**fields, **overrides})


def _point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from points ``p [..., 2]`` to segments ``a, b [..., 2]`` (broadcast)."""
    ab = b - a
    denom = np.maximum((ab * ab).sum(-1), 1e-12)
    t = np.clip(((p - a) * ab).sum(-1) / denom, 0.0, 1.0)
    closest = a + t[..., None] * ab
    return np.sqrt(((p - closest) ** 2).sum(-1))


# The placement grid has this many cells per side whatever the resolution (a cell is resolution / 128 pixels).
_GRID = 128
_EMPTY, _SHARED = -1, -2


class _Zones:
    """Where new shapes may go: each grid cell records which contour's keep-out zone covers it.

    A placed shape of radius ``r`` claims the cells within ``r + clearance + thickness / 2`` of its centre line
    for its contour; a cell claimed by two contours is closed to all. A candidate paddle is accepted when every
    sample on its centre line (one per cell) lies in an empty cell or in its own contour's zone.
    """

    def __init__(self, cfg: PathfinderConfig) -> None:
        self.cell = cfg.resolution / _GRID
        self.owner = np.full((_GRID, _GRID), _EMPTY, dtype=np.int16)
        self.slack = cfg.clearance + cfg.paddle_thickness / 2

    def window(self, a: np.ndarray, b: np.ndarray, reach: float) -> tuple[tuple[slice, slice], np.ndarray]:
        """The grid window around segment ``a b`` and which of its cells lie within ``reach`` of it."""
        lo = np.floor((np.minimum(a, b) - reach) / self.cell).astype(int).clip(0, _GRID)
        hi = np.ceil((np.maximum(a, b) + reach) / self.cell).astype(int).clip(0, _GRID)
        ys = (np.arange(lo[1], hi[1]) + 0.5) * self.cell
        xs = (np.arange(lo[0], hi[0]) + 0.5) * self.cell
        grid = np.stack(np.meshgrid(xs, ys, indexing="xy"), axis=-1)
        return (slice(lo[1], hi[1]), slice(lo[0], hi[0])), _point_segment_distance(grid, a, b) <= reach

    def claim(self, a: np.ndarray, b: np.ndarray, radius: float, owner: int) -> None:
        """Record a placed capsule of ``owner``."""
        where, near = self.window(a, b, radius + self.slack)
        window = self.owner[where]
        window[near & (window == _EMPTY)] = owner
        window[near & (window != owner)] = _SHARED

    def index(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row and column of the cells under ``points [..., 2]``, and whether each point is on the grid."""
        idx = np.floor(points / self.cell).astype(int)
        inside = ((idx >= 0) & (idx < _GRID)).all(-1)
        idx = idx.clip(0, _GRID - 1)
        return idx[..., 1], idx[..., 0], inside

    def free(self, points: np.ndarray, owner: int) -> np.ndarray:
        """Whether every point of each row of ``points [M, P, 2]`` is open to ``owner``: [M] bool."""
        rows, cols, inside = self.index(points)
        cells = np.where(inside, self.owner[rows, cols], _SHARED)
        return ((cells == _EMPTY) | (cells == owner)).all(-1)


@functools.lru_cache(maxsize=32)
def _disc_offsets(radius: float, step: float) -> np.ndarray:
    """Sample offsets [P, 2] covering a disc of ``radius`` around the origin (the centre and rings every ``step``)."""
    points = [np.zeros((1, 2))]
    for ring in np.arange(step, radius + 1e-9, step):
        count = max(math.ceil(2 * math.pi * ring / step), 6)
        angles = np.linspace(0, 2 * math.pi, count, endpoint=False)
        points.append(ring * np.stack([np.cos(angles), np.sin(angles)], -1))
    return np.concatenate(points)


def _grow_contour(
    rng: np.random.Generator, zones: _Zones, cfg: PathfinderConfig, paddles: int, owner: int, with_ends: bool
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Place one contour of ``paddles`` paddles; returns its segments or None if it did not fit."""
    half = cfg.paddle_thickness / 2
    end_radius = max(cfg.marker_radius, half) if with_ends else half
    max_turn = cfg.continuity * math.pi / 4
    size = cfg.resolution
    step = zones.cell
    # Samples along a paddle, as fractions of its length.
    samples = np.linspace(0.0, 1.0, max(math.ceil(cfg.paddle_length / step) + 1, 2))
    self_gap = cfg.paddle_thickness + cfg.paddle_gap / 2
    disc = _disc_offsets(end_radius - half, step)
    # Start points are drawn among the open cells, so that a crowded canvas wastes no attempts on taken ones.
    lo, hi = cfg.padding + end_radius, size - cfg.padding - end_radius
    open_cells = np.argwhere(zones.owner == _EMPTY)
    centres = (open_cells[:, ::-1] + 0.5) * step
    open_cells = centres[((centres >= lo) & (centres <= hi)).all(-1)]
    if len(open_cells) == 0:
        return None
    for _ in range(_CONTOUR_TRIES):
        start = open_cells[rng.integers(len(open_cells))] + rng.uniform(-step / 2, step / 2, size=2)
        if not zones.free((start + disc)[None], owner)[0]:
            continue
        # Heading roughly towards the centre keeps long contours from running into the border.
        to_centre = math.atan2(size / 2 - start[1], size / 2 - start[0])
        theta = to_centre + rng.uniform(-math.pi / 2, math.pi / 2)
        point, segments = start, []
        # Samples of this contour's paddles but the last: a new paddle keeps ``self_gap`` away from them.
        own = np.zeros((0, 2))
        previous = np.zeros((0, 2))
        for i in range(paddles):
            turns = np.zeros(1) if i == 0 else rng.uniform(-max_turn, max_turn, size=_PADDLE_TRIES)
            angles = theta + turns
            direction = np.stack([np.cos(angles), np.sin(angles)], -1)  # [M, 2]
            a = point + (0.0 if i == 0 else cfg.paddle_gap) * direction
            b = a + cfg.paddle_length * direction
            margin_b = cfg.padding + (end_radius if i == paddles - 1 else half)
            ok = ((a >= cfg.padding + half) & (a <= size - cfg.padding - half)).all(-1)
            ok &= ((b >= margin_b) & (b <= size - margin_b)).all(-1)
            body = a[:, None] + samples[None, :, None] * (b - a)[:, None]  # [M, P, 2]
            ok &= zones.free(body, owner)
            if len(own):
                near = ((body[:, :, None] - own[None, None]) ** 2).sum(-1).min(axis=(1, 2))
                ok &= near >= self_gap**2
            if i == paddles - 1 and with_ends:
                for m in np.flatnonzero(ok):
                    ok[m] = zones.free((b[m] + disc)[None], owner)[0]
            if not ok.any():
                break
            # Prefer turns that leave room ahead (a point LOOKAHEAD steps further on is free): contours longer
            # than the canvas is wide only fit when they curve away from the border and from other contours.
            ahead = b + _LOOKAHEAD * (cfg.paddle_gap + cfg.paddle_length) * direction
            room = ok & ((ahead >= cfg.padding) & (ahead <= size - cfg.padding)).all(-1)
            room &= zones.free(ahead[:, None], owner)
            m = int(np.argmax(room)) if room.any() else int(np.argmax(ok))
            theta = float(angles[m])
            segments.append((a[m], b[m]))
            point = b[m]
            own = np.concatenate([own, previous])
            previous = body[m]
        if len(segments) == paddles:
            for a_, b_ in segments:
                zones.claim(a_, b_, half, owner)
            if with_ends:
                zones.claim(segments[0][0], segments[0][0], end_radius, owner)
                zones.claim(segments[-1][1], segments[-1][1], end_radius, owner)
            return segments
    return None


def _rasterise(
    shapes: list[tuple[np.ndarray, np.ndarray, float, float]], resolution: int, antialias: int
) -> np.ndarray:
    """Draw capsules ``(a, b, radius, intensity)`` with a one-subpixel soft edge; returns [R, R] floats in [0, 1]."""
    size = resolution * antialias
    canvas = np.zeros((size, size))
    for a, b, radius, value in shapes:
        lo = np.floor((np.minimum(a, b) - radius - 1) * antialias).astype(int).clip(0, size)
        hi = np.ceil((np.maximum(a, b) + radius + 1) * antialias).astype(int).clip(0, size)
        if (hi <= lo).any():
            continue
        # Sub-pixel centres in output-pixel units; x is the column, y the row.
        ys = (np.arange(lo[1], hi[1]) + 0.5) / antialias
        xs = (np.arange(lo[0], hi[0]) + 0.5) / antialias
        grid = np.stack(np.meshgrid(xs, ys, indexing="xy"), axis=-1)  # [h, w, 2]
        dist = _point_segment_distance(grid, a, b)
        cover = np.clip((radius - dist) * antialias + 0.5, 0.0, 1.0) * value
        window = canvas[lo[1] : hi[1], lo[0] : hi[0]]
        np.maximum(window, cover, out=window)
    return canvas.reshape(resolution, antialias, resolution, antialias).mean(axis=(1, 3))


def _marker_ends(
    rng: np.random.Generator, first: list, second: list, positive: bool, min_distance: float
) -> tuple[np.ndarray, np.ndarray] | None:
    if positive:
        options = [(first[0][0], first[-1][1])]
    else:
        options = [(p, q) for p in (first[0][0], first[-1][1]) for q in (second[0][0], second[-1][1])]
    options = [(p, q) for p, q in options if np.linalg.norm(p - q) >= min_distance]
    if not options:
        return None
    return options[int(rng.integers(len(options)))]


def generate_pathfinder_example(
    config: PathfinderConfig, seed: int, index: int, positive: bool, return_geometry: bool = False
) -> tuple[np.ndarray, dict] | np.ndarray:
    """Draw one Pathfinder image.

    Args:
        config: The geometry.
        seed: Data-set seed.
        index: Example index; ``(seed, index)`` fixes the image.
        positive: Whether the markers go on the same contour.
        return_geometry: Also return the marker centres and the contours' segments (for plots and debugging).

    Returns:
        The image [R, R] uint8 (0 = background), or ``(image, geometry)`` where ``geometry`` holds
        ``"markers"`` [2, 2] (x, y) and ``"contours"`` (lists of segments).

    Raises:
        PathfinderError: If no layout was found after many attempts (settings too crowded).
    """
    # The resolution is part of the key: otherwise every resolution would draw the same layouts, scaled.
    rng = np.random.default_rng([int(seed), int(index), config.resolution, 0x9A7F])
    half = config.paddle_thickness / 2
    for _ in range(_IMAGE_TRIES):
        zones = _Zones(config)
        first = _grow_contour(rng, zones, config, config.contour_length, owner=0, with_ends=True)
        second = first and _grow_contour(rng, zones, config, config.contour_length, owner=1, with_ends=True)
        if not first or not second:
            continue
        ends = _marker_ends(rng, first, second, positive, config.seed_distance)
        if ends is None:
            continue
        distractors = []
        for k in range(config.distractors):
            contour = _grow_contour(rng, zones, config, config.distractor_paddles, owner=2 + k, with_ends=False)
            if contour is None:
                break
            distractors.append(contour)
        if len(distractors) < config.distractors:
            continue
        contours = [first, second, *distractors]
        shapes = [(a, b, half, config.paddle_contrast) for contour in contours for a, b in contour]
        shapes += [(p, p, config.marker_radius, 1.0) for p in ends]
        image = _rasterise(shapes, config.resolution, config.antialias)
        pixels = np.round(image * 255).astype(np.uint8)
        if return_geometry:
            return pixels, {"markers": np.stack(ends), "contours": contours}
        return pixels
    raise PathfinderError(
        f"could not place {config.distractors} distractors and two contours of {config.contour_length} paddles on "
        f"a {config.resolution}px canvas after {_IMAGE_TRIES} attempts (seed {seed}, index {index}); "
        "lower contour_length, num_distractors or clearance"
    )
