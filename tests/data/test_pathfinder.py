"""The Pathfinder generator: deterministic, balanced, labels confirmed on the pixels, cached atomically, a sheet."""

from __future__ import annotations

import numpy as np
import pytest

from lion_attn.data import pathfinder, pathfinder_cache
from lion_attn.data.pathfinder import (
    PathfinderConfig,
    PathfinderError,
    generate_pathfinder_example,
    pathfinder_config,
)
from lion_attn.data.pathfinder_cache import (
    load_or_generate_pathfinder,
    make_pathfinder,
    pathfinder_cache_path,
    write_pathfinder_sheet,
)
from tests.data.pixel_paths import find_markers, markers_connected


def test_lra_setting_and_scaling():
    small = pathfinder_config(32)
    assert (small.padding, small.paddle_length, small.paddle_thickness, small.marker_radius) == (1, 2, 0.5, 1.5)
    assert (small.contour_length, small.continuity, small.seed_distance, small.antialias) == (14, 1.0, 7, 2)
    assert small.paddle_contrast == 0.75
    assert (small.distractor_paddles, small.distractors) == (4, 5)
    assert [pathfinder_config(32, d).contour_length for d in ("easy", "intermediate", "hard")] == [6, 9, 14]
    assert (pathfinder_config(32, "easy").distractor_paddles, pathfinder_config(32, "easy").distractors) == (2, 10)
    big = pathfinder_config(128)
    assert big.resolution == 128 and big.contour_length == 14
    assert (big.paddle_length, big.marker_radius, big.seed_distance, big.padding) == (8, 6, 28, 4)


@pytest.mark.parametrize("resolution", [32, 64])
def test_deterministic_by_seed_and_index(resolution):
    cfg = pathfinder_config(resolution)
    a = generate_pathfinder_example(cfg, seed=3, index=5, positive=True)
    b = generate_pathfinder_example(cfg, seed=3, index=5, positive=True)
    assert a.dtype == np.uint8 and a.shape == (resolution, resolution)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, generate_pathfinder_example(cfg, seed=4, index=5, positive=True))
    assert not np.array_equal(a, generate_pathfinder_example(cfg, seed=3, index=6, positive=True))


@pytest.mark.parametrize(("resolution", "count"), [(32, 24), (64, 8), (128, 4)])
def test_labels_agree_with_an_independent_pixel_check(resolution, count):
    """Markers joined by drawn pixels (dash gaps bridged) exactly when the label says so."""
    cfg = pathfinder_config(resolution)
    images, labels = make_pathfinder(cfg, count, seed=11, workers=1, progress=False)
    link = 1.5 * resolution / 32
    for image, label in zip(images, labels, strict=True):
        assert len(find_markers(image)) == 2
        assert markers_connected(image, threshold=0.05, link=link) == bool(label)


def test_pixel_check_is_not_vacuous():
    """The check says 'not connected' when the contour between the markers is erased."""
    cfg = pathfinder_config(64)
    image, geometry = generate_pathfinder_example(cfg, seed=2, index=1, positive=True, return_geometry=True)
    assert markers_connected(image, threshold=0.05, link=3.0)
    (x, y) = geometry["contours"][0][len(geometry["contours"][0]) // 2][0]
    cut = image.copy()
    cut[max(int(y) - 4, 0) : int(y) + 5, max(int(x) - 4, 0) : int(x) + 5] = 0
    assert not markers_connected(cut, threshold=0.05, link=3.0)


def test_markers_sit_on_contour_ends_and_far_apart():
    cfg = pathfinder_config(64)
    for index, positive in ((0, False), (1, True)):
        _, geometry = generate_pathfinder_example(cfg, seed=0, index=index, positive=positive, return_geometry=True)
        first, second = geometry["contours"][:2]
        ends_first = [first[0][0], first[-1][1]]
        ends_second = [second[0][0], second[-1][1]]
        p, q = geometry["markers"]
        assert np.linalg.norm(p - q) >= cfg.seed_distance
        on_first = [any(np.allclose(m, e) for e in ends_first) for m in (p, q)]
        on_second = [any(np.allclose(m, e) for e in ends_second) for m in (p, q)]
        assert all(on_first) if positive else (sum(on_first) == 1 and sum(on_second) == 1)
        assert len(geometry["contours"]) == 2 + cfg.distractors


def test_balanced_and_parallel_equals_serial(monkeypatch):
    monkeypatch.setattr(pathfinder_cache, "_CHUNK", 4)
    cfg = pathfinder_config(32, "easy")
    serial, labels = make_pathfinder(cfg, 18, seed=5, workers=1, progress=False)
    parallel, labels2 = make_pathfinder(cfg, 18, seed=5, workers=2, progress=False)
    assert np.array_equal(serial, parallel) and np.array_equal(labels, labels2)
    assert labels.sum() == 9


def test_cache_round_trip_and_sheet(tmp_path):
    cfg = pathfinder_config(32, "easy")
    images, labels = load_or_generate_pathfinder(tmp_path, cfg, 8, seed=1, workers=1, progress=False)
    path = pathfinder_cache_path(tmp_path, cfg, 8, seed=1)
    assert path.is_file() and path.with_suffix(".png").is_file()
    assert not list(tmp_path.glob(".*.tmp"))
    again, labels_again = load_or_generate_pathfinder(tmp_path, cfg, 8, seed=1, workers=1, progress=False)
    assert np.array_equal(images, again) and np.array_equal(labels, labels_again)
    assert pathfinder_cache_path(tmp_path, cfg, 8, seed=2) != path
    assert pathfinder_cache_path(tmp_path, pathfinder_config(32, "hard"), 8, seed=1) != path
    from PIL import Image

    sheet = write_pathfinder_sheet(images, labels, tmp_path / "sheet.png", count=4, columns=2)
    width, height = Image.open(sheet).size
    assert width > 2 * 32 and height > 2 * 32


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"resolution": 0}, "resolution"),
        ({"contour_length": 1}, "contour_length"),
        ({"paddle_contrast": 1.5}, "paddle_contrast"),
        ({"marker_radius": 0.0}, "marker_radius"),
    ],
)
def test_bad_config_raises(fields, match):
    with pytest.raises(ValueError, match=match):
        PathfinderConfig(**fields)


def test_bad_difficulty_and_crowded_canvas_raise(monkeypatch):
    with pytest.raises(ValueError, match="difficulty"):
        pathfinder_config(32, "impossible")
    monkeypatch.setattr(pathfinder, "_IMAGE_TRIES", 2)
    monkeypatch.setattr(pathfinder, "_CONTOUR_TRIES", 2)
    crowded = pathfinder_config(32, 40, clearance=6.0)
    with pytest.raises(PathfinderError, match="could not place"):
        generate_pathfinder_example(crowded, seed=0, index=0, positive=True)
