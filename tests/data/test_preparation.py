from __future__ import annotations

import pytest

import lion_attn.data.preparation as prep
from lion_attn.data.austen import AUSTEN_NOVELS, load_austen
from lion_attn.data.fashion_mnist import find_fashion_mnist, load_fashion_mnist
from lion_attn.data.jsonl import read_jsonl_classification
from lion_attn.data.paths import SYSTEM_FASHION_MNIST_DIR
from lion_attn.data.preparation import DataPrepareError, prepare

needs_system_data = pytest.mark.skipif(
    not (SYSTEM_FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason="dataset-fashion-mnist is not installed",
)


@needs_system_data
def test_prepare_everything_then_idempotent(isolated_data_home, janeaustenr_deb):
    results = prepare(janeaustenr_deb=janeaustenr_deb, words_per_passage=256)
    assert results["dest"] == str(isolated_data_home)
    assert {results[k]["status"] for k in ("fashion-mnist", "austen", "austen-cls")} == {"prepared"}
    assert sorted(p.name for p in (isolated_data_home / "fashion-mnist").iterdir()) == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]
    # The loaders now find the prepared files in the data home.
    images_path, _, is_sample = find_fashion_mnist("test")
    assert not is_sample and images_path.parent == isolated_data_home / "fashion-mnist"
    assert load_fashion_mnist("test")[0].shape == (10_000, 28, 28)
    texts = load_austen()
    assert list(texts) == list(AUSTEN_NOVELS) and results["austen"]["words"] > 650_000

    train_texts, train_ids, names = read_jsonl_classification(isolated_data_home / "austen-cls" / "train.jsonl")
    _, val_ids, _ = read_jsonl_classification(isolated_data_home / "austen-cls" / "val.jsonl", label_names=names)
    assert sorted(names) == sorted(AUSTEN_NOVELS)
    assert set(val_ids) == set(range(6)) and len(train_ids) > 9 * len(val_ids) - 6
    assert all(len(t.split()) == 256 for t in train_texts[:50])

    before = (isolated_data_home / "austen-cls" / "train.jsonl").stat().st_mtime_ns
    again = prepare(janeaustenr_deb=janeaustenr_deb, words_per_passage=256)
    assert {again[k]["status"] for k in ("fashion-mnist", "austen", "austen-cls")} == {"present"}
    assert (isolated_data_home / "austen-cls" / "train.jsonl").stat().st_mtime_ns == before
    # New passage settings rebuild only the passages.
    changed = prepare(what=["austen"], words_per_passage=64)
    assert changed["austen"]["status"] == "present" and changed["austen-cls"]["status"] == "prepared"


def test_austen_only_into_explicit_dest(tmp_path, janeaustenr_deb):
    results = prepare(tmp_path / "out", what=["austen"], janeaustenr_deb=janeaustenr_deb)
    assert "fashion-mnist" not in results
    assert sorted(p.stem for p in (tmp_path / "out" / "austen").glob("*.txt")) == sorted(AUSTEN_NOVELS)
    assert (tmp_path / "out" / "austen-cls" / "val.jsonl").stat().st_size > 0
    emma = tmp_path / "out" / "austen" / "emma.txt"
    original = emma.read_text(encoding="utf-8")
    emma.write_text("tampered", encoding="utf-8")
    assert prepare(tmp_path / "out", what=["austen"], janeaustenr_deb=janeaustenr_deb)["austen"]["status"] == "present"
    forced = prepare(tmp_path / "out", what=["austen"], force=True, janeaustenr_deb=janeaustenr_deb)
    assert forced["austen"]["status"] == forced["austen-cls"]["status"] == "prepared"
    assert emma.read_text(encoding="utf-8") == original


def test_unknown_dataset(tmp_path):
    with pytest.raises(ValueError, match="cifar"):
        prepare(tmp_path, what=["cifar"])


def test_without_apt_the_error_mentions_the_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(prep, "SYSTEM_FASHION_MNIST_DIR", tmp_path / "absent")
    monkeypatch.setattr(prep, "SYSTEM_JANEAUSTENR_DIR", tmp_path / "absent")
    monkeypatch.setattr(prep, "_apt_get", lambda: None)
    with pytest.raises(DataPrepareError, match="sample") as info:
        prepare(tmp_path / "out")
    message = str(info.value)
    assert "fashion-mnist" in message and "austen" in message and "apt-get" in message
    assert info.value.results["fashion-mnist"]["status"] == "unavailable"
    assert info.value.results["austen-cls"]["status"] == "unavailable"


def test_not_root_is_told_to_use_sudo(tmp_path, monkeypatch):
    monkeypatch.setattr(prep, "SYSTEM_FASHION_MNIST_DIR", tmp_path / "absent")
    monkeypatch.setattr(prep, "_apt_get", lambda: "/usr/bin/apt-get")
    monkeypatch.setattr(prep, "_is_root", lambda: False)
    with pytest.raises(DataPrepareError, match="sudo apt-get install -y dataset-fashion-mnist"):
        prepare(tmp_path / "out", what=["fashion-mnist"])


def test_failed_apt_install_is_reported(tmp_path, monkeypatch):
    calls = []

    def fake_run(cmd, cwd=None):
        calls.append(cmd)
        return prep.subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package")

    monkeypatch.setattr(prep, "SYSTEM_FASHION_MNIST_DIR", tmp_path / "absent")
    monkeypatch.setattr(prep, "_apt_get", lambda: "apt-get")
    monkeypatch.setattr(prep, "_is_root", lambda: True)
    monkeypatch.setattr(prep, "_run", fake_run)
    with pytest.raises(DataPrepareError, match="Unable to locate package"):
        prepare(tmp_path / "out", what=["fashion-mnist"])
    assert calls == [["apt-get", "install", "-y", "--no-install-recommends", "dataset-fashion-mnist"]]
