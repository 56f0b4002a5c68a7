"""An independent reading of a Pathfinder image: are the two markers joined by the drawn contour?

It sees only the pixels: the markers are the two blobs brighter than any paddle can be, and the contour is every
pixel above a low threshold. Paddles of one contour are separated by small gaps (the dashes), so pixels are linked
when they are at most ``link`` pixels apart; the generator keeps different contours farther apart than that.
Nothing here is shared with the generator.
"""

from __future__ import annotations

from collections import deque

import numpy as np


def _components(mask: np.ndarray, offsets: list[tuple[int, int]]) -> np.ndarray:
    """Label the pixels of ``mask`` (0 = background), linking pixels whose difference is one of ``offsets``."""
    labels = np.zeros(mask.shape, dtype=np.int32)
    height, width = mask.shape
    current = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if labels[start]:
            continue
        current += 1
        labels[start] = current
        queue = deque([start])
        while queue:
            y, x = queue.popleft()
            for dy, dx in offsets:
                ny, nx = y + dy, x + dx
                if 0 <= ny < height and 0 <= nx < width and mask[ny, nx] and not labels[ny, nx]:
                    labels[ny, nx] = current
                    queue.append((ny, nx))
    return labels


def _offsets(radius: float) -> list[tuple[int, int]]:
    r = int(np.floor(radius))
    return [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if 0 < dy * dy + dx * dx <= radius**2]


def find_markers(image: np.ndarray, level: float = 0.8) -> list[tuple[float, float]]:
    """Centroids (row, column) of the blobs brighter than ``level`` (markers are 1.0, paddles at most 0.75)."""
    bright = image.astype(np.float64) / 255.0 > level
    labels = _components(bright, _offsets(1.5))
    return [tuple(np.argwhere(labels == k).mean(axis=0)) for k in range(1, labels.max() + 1)]


def markers_connected(image: np.ndarray, threshold: float = 0.12, link: float = 2.0) -> bool:
    """Whether the two markers of ``image [R, R] uint8`` lie in one linked set of drawn pixels.

    Raises:
        AssertionError: If the image does not hold exactly two markers.
    """
    markers = find_markers(image)
    assert len(markers) == 2, f"expected two markers, found {len(markers)}"
    drawn = image.astype(np.float64) / 255.0 > threshold
    labels = _components(drawn, _offsets(link))
    (ya, xa), (yb, xb) = markers
    a, b = labels[round(ya), round(xa)], labels[round(yb), round(xb)]
    assert a and b, "a marker centre is not a drawn pixel"
    return bool(a == b)
