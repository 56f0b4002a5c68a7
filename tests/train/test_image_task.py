"""The image task on anyone's folder: sizes, channels, validation split, DeiT recipe, repeated augmentation."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lion_attn.train.cli import main, resolve_train_config
from lion_attn.train.repeated_aug import RepeatedAugSampler
from lion_attn.train.sampler import ShardedBatchSampler
from lion_attn.train.tasks.image_data import choose_sizes, stratified_split

CLI = ["-m", "lion_attn.train.cli"]
FAST = ["--batch-size", "8", "--max-steps", "2", "--no-progress", "--model-arg", "depth=1"]


def make_folder(root: Path, counts: dict[str, int], mode: str = "L", splits: tuple[str, ...] = ("",), fmt: str = "png"):
    rng = np.random.default_rng(0)
    for split in splits:
        for c, (name, n) in enumerate(counts.items()):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                # Odd, varying sizes; the class sets the brightness so a model can learn something.
                h, w = 17 + i % 5, 23 + 2 * (i % 3)
                shape = (h, w) if mode == "L" else (h, w, 3)
                base = 40 + 60 * c
                pixels = np.clip(base + rng.integers(-30, 30, shape), 0, 255).astype(np.uint8)
                Image.fromarray(pixels, mode).save(folder / f"{i}.{fmt}")
    return root


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def checkpoint_state(out: Path) -> dict:
    return torch.load(out / "checkpoints" / "last" / "trainer_state.pt", weights_only=False)


@pytest.mark.parametrize(
    ("model", "image_size", "patch_size", "expected"),
    [
        ("lion_snat_vit_mini_patch7_28", 0, 0, (28, 7, "")),
        ("lion_snat_vit_mini_patch7_28", 32, 0, (35, 7, "32 -> 35")),
        ("lion_snat_vit_mini_patch7_28", 30, 0, (28, 7, "30 -> 28")),
        ("lion_snat_vit_mini_patch7_28", 0, 8, (32, 8, "28 -> 32")),
        ("lion_s_vit_tiny_patch16_224", 0, 0, (224, 16, "")),
        ("lion_s_vit_tiny_patch16_224", 24, 0, (32, 16, "24 -> 32")),
        ("lion_s_vit_tiny_patch16_224", 5, 0, (16, 16, "5 -> 16")),
    ],
)
def test_choose_sizes(model, image_size, patch_size, expected):
    side, patch, note = choose_sizes(model, image_size, patch_size)
    assert (side, patch) == expected[:2] and expected[2] in note and bool(note) == bool(expected[2])


def test_choose_sizes_errors():
    with pytest.raises(ValueError, match="does not divide"):
        choose_sizes("lion_snat_vit_mini_patch7_28", 30, 7)
    with pytest.raises(ValueError, match="not an image model"):
        choose_sizes("lion_s_bert_tiny")
    with pytest.raises(ValueError, match="not a registered model"):
        choose_sizes("no_such_vit")


def test_stratified_split():
    targets = [0] * 50 + [1] * 7 + [2] * 1 + [3] * 2
    train, val = stratified_split(targets, 0.2, seed=3)
    assert sorted(train + val) == list(range(len(targets))) and not set(train) & set(val)
    in_val = Counter(targets[i] for i in val)
    assert in_val == {0: 10, 1: 1, 3: 1}  # the single image of class 2 stays in training
    assert stratified_split(targets, 0.2, seed=3) == (train, val)
    assert stratified_split(targets, 0.2, seed=4) != (train, val)
    assert stratified_split(targets, 0.0, seed=3) == (list(range(len(targets))), [])
    with pytest.raises(ValueError, match="val-fraction"):
        stratified_split(targets, 1.0, seed=0)


@pytest.mark.parametrize("world", [1, 2, 3])
def test_repeated_aug_sampler(world):
    n, batch, repeats = 40, 12, 3
    ranks = [RepeatedAugSampler(n, batch, seed=5, rank=r, world_size=world, repeats=repeats) for r in range(world)]
    assert ranks[0].num_batches() == n // batch
    epoch = [list(s) for s in ranks]
    for b in range(len(epoch[0])):
        glob = [i for r in range(world) for i in epoch[r][b]]
        assert len(glob) == batch
        counts = Counter(glob)
        # Each drawn image appears `repeats` times (a batch edge can cut a group short).
        assert all(c <= repeats for c in counts.values()) and sum(c == repeats for c in counts.values()) >= 2
        if world >= repeats:
            for r in range(world):
                assert len(set(epoch[r][b])) == len(epoch[r][b]), "copies should land on different ranks"
    # Same order again, another order for another epoch, and resuming mid-epoch continues it.
    assert [list(s) for s in ranks] == epoch
    ranks[0].set_epoch(1)
    assert list(ranks[0]) != epoch[0]
    ranks[0].set_epoch(0, start_batch=1)
    assert list(ranks[0]) == epoch[0][1:]
    assert isinstance(ranks[0], ShardedBatchSampler)
    with pytest.raises(ValueError, match="repeats"):
        RepeatedAugSampler(n, batch, repeats=0)


@pytest.mark.parametrize(
    ("mode", "splits", "expected_channels"),
    [("L", ("",), 1), ("RGB", ("train",), 3), ("RGB", ("train", "val", "test"), 3)],
)
def test_any_folder_with_the_default_model(tmp_path, caplog, mode, splits, expected_channels):
    data = make_folder(tmp_path / "data", {"a": 12, "b": 10, "rare": 1}, mode=mode, splits=splits)
    out = tmp_path / "run"
    with caplog.at_level(logging.INFO):
        assert main(["train", "image", "--data", str(data), "--out", str(out), *FAST]) == 0
    s = summary(out)
    assert s["steps"] == 2 and 0 <= s["final"] <= 1
    state = checkpoint_state(out)["task_state"]
    assert state["channels"] == expected_channels and state["image_size"] == 28 and state["patch_size"] == 7
    assert state["label_names"] == ["a", "b", "rare"]
    text = caplog.text
    assert "3 classes (a " in text and "rare 1" in text and ("grey" if mode == "L" else "RGB") in text
    if "val" in splits:
        assert "validation images (val/)" in text and "test images" in text
    else:
        assert "10% of train/, seeded" in text


def test_folder_size_note_and_explicit_channels(tmp_path, caplog):
    data = make_folder(tmp_path / "data", {"x": 4, "y": 4}, mode="RGB", splits=("train", "val"))
    out = tmp_path / "run"
    args = ["train", "image", "--data", str(data), "--out", str(out), "--image-size", "30", "--channels", "1", *FAST]
    with caplog.at_level(logging.INFO):
        assert main(args) == 0
    assert "image size 30 -> 28" in caplog.text
    assert checkpoint_state(out)["task_state"]["channels"] == 1


def test_imagenet_style_folder_decoded_in_workers(tmp_path):
    classes = {f"n{i:08d}": 2 for i in range(30)}
    data = make_folder(tmp_path / "data", classes, mode="RGB", splits=("train", "val"), fmt="JPEG")
    out = tmp_path / "run"
    args = ["train", "image", "--data", str(data), "--out", str(out), "--cache", "off", "--num-workers", "1", *FAST]
    assert main(args) == 0
    assert len(checkpoint_state(out)["task_state"]["label_names"]) == 30


def test_deit_recipe_config():
    cfg = resolve_train_config("image", {"recipe": "deit", "batch_size": 256})
    assert cfg.lr == pytest.approx(5e-4 * 256 / 512) and cfg.weight_decay == 0.05 and cfg.grad_clip == 0
    assert cfg.epochs == 300 and cfg.warmup == pytest.approx(5 / 300) and cfg.min_lr == 1e-5
    assert resolve_train_config("image", {"recipe": "deit", "lr": 0.01}).lr == 0.01
    assert resolve_train_config("image", {"lr_base": 1e-3, "batch_size": 1024}).lr == pytest.approx(2e-3)
    budget = resolve_train_config("image", {"recipe": "deit", "max_minutes": 3.0, "epochs": 7})
    assert budget.epochs == 7 and budget.warmup == pytest.approx(0.2)
    assert resolve_train_config("image", {"recipe": "deit", "max_minutes": 3.0}).budget_scheduled
    with pytest.raises(ValueError, match="--lr or --lr-base"):
        resolve_train_config("image", {"lr": 0.1, "lr_base": 1e-3})


def test_deit_recipe_run_and_resume(tmp_path, caplog):
    data = make_folder(tmp_path / "data", {"a": 10, "b": 10}, mode="RGB", splits=("",))
    out = tmp_path / "run"
    args = ["train", "image", "--data", str(data), "--out", str(out), "--recipe", "deit", "--model-arg", "embed_dim=32"]
    with caplog.at_level(logging.INFO):
        assert main([*args, *FAST, "--max-steps", "3", "--stop-after", "2"]) == 0
    assert "mixup=0.8" in caplog.text and "randaug_n=2" in caplog.text
    lr = json.loads((out / "config.json").read_text())["lr"]
    assert lr == pytest.approx(5e-4 * 8 / 512) and summary(out)["steps"] == 2
    model_config = json.loads((out / "checkpoints" / "last" / "config.json").read_text())
    assert model_config["drop_path_rate"] == 0.1
    assert main(["train", "image", "--resume", str(out), "--no-progress"]) == 0
    assert summary(out)["steps"] == 3 and checkpoint_state(out)["config"]["lr"] == lr
    assert main(["train", "image", "--data", str(data), "--lr", "0.1", "--lr-base", "0.001", "--out", str(out)]) == 2


def test_fashion_mnist_selects_on_a_validation_split():
    from lion_attn.data import load_fashion_mnist
    from lion_attn.train.config import TrainConfig
    from lion_attn.train.tasks.image import ImageTask

    task = ImageTask(TrainConfig(task="image", model="lion_snat_vit_mini_patch7_28"))
    n_train = len(load_fashion_mnist("train")[1])
    assert len(task.train_dataset) + len(task.eval_dataset) == n_train
    assert len(task.eval_dataset) == pytest.approx(0.1 * n_train, abs=10)
    assert len(task.test_dataset) == len(load_fashion_mnist("test")[1])
    # The validation images are training images, not test images.
    train_x = task.train_dataset.tensors[0]
    val_x = task.eval_dataset.tensors[0]
    assert val_x.dtype == torch.uint8 and val_x.shape[1:] == (1, 28, 28)
    assert not torch.equal(val_x[:5], task.test_dataset.tensors[0][:5])
    assert len(train_x) > len(val_x)
    evaluation = ImageTask(TrainConfig(task="image", model="lion_snat_vit_mini_patch7_28"), for_eval=True)
    assert evaluation.eval_dataset is evaluation.test_dataset


def test_deit_recipe_under_two_processes(tmp_path, isolated_data_home):
    data = make_folder(tmp_path / "data", {"a": 8, "b": 8, "c": 8}, mode="RGB", splits=("train",))
    out = tmp_path / "ddp"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", LION_DATA=str(isolated_data_home), PYTHONPATH=os.pathsep.join(sys.path))
    args = ["train", "image", "--data", str(data), "--recipe", "deit", "--model", "lion_s_vit_nano_patch4_28"]
    args += ["--out", str(out), "--batch-size", "12", "--max-steps", "3", "--no-progress", "--model-arg", "depth=1"]
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *CLI, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "repeated augmentation: each drawn image 3 times" in proc.stderr
    assert "over 2 process(es)" in proc.stderr and summary(out)["steps"] == 3
    # Both ranks opened one cache: rank 0 built it while rank 1 waited.
    assert len(list((isolated_data_home / "cache" / "images").iterdir())) == 1


def test_eval_a_folder_run_on_its_split_and_on_new_images(tmp_path):
    data = make_folder(tmp_path / "data", {"a": 10, "b": 10}, mode="L", splits=("",))
    out = tmp_path / "run"
    assert main(["train", "image", "--data", str(data), "--out", str(out), *FAST]) == 0
    report = tmp_path / "eval.json"
    common = ["eval", "--checkpoint", str(out), "--mode", "parallel", "--in-process", "--json", str(report)]
    assert main(common) == 0
    # The run's own validation split, carved again from the same seed.
    assert json.loads(report.read_text())["modes"]["parallel"]["samples"] == 2
    other = make_folder(tmp_path / "other", {"b": 3}, mode="RGB", splits=("",))
    assert main([*common, "--data", str(other)]) == 0
    assert json.loads(report.read_text())["modes"]["parallel"]["samples"] == 3
