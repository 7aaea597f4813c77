"""Tampered model directories: every kind of damage is one clear ModelFileError, never a hang."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import signal
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psplab.data import DatasetSpec, load_dataset
from psplab.errors import ModelFileError
from psplab.models.pipeline import fit_dataset, load_model
from psplab.models.rundir import write_fit_run


@pytest.fixture(scope="module")
def rf_run(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    t, h = rng.uniform(300, 900, 30), rng.uniform(1, 100, 30)
    frame = pd.DataFrame({"T": t, "time": h, "HV": 100 + 0.2 * t + 10 * np.log(h)})
    spec = DatasetSpec.from_dict(
        {
            "column": [
                {"name": "T", "role": "processing"},
                {"name": "time", "role": "processing"},
                {"name": "HV", "role": "property"},
            ]
        }
    )
    fitted = fit_dataset(
        load_dataset(spec, frame), "rf", {"n_estimators": 20}, calibrate=False, progress=False
    )
    return write_fit_run(fitted, tmp_path_factory.mktemp("rf") / "run")


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _named(arrays: dict[str, np.ndarray], name: str) -> list[str]:
    return [k for k in arrays if (k == name or k.endswith("__" + name)) and arrays[k].ndim]


def _self_loop(run: Path) -> None:
    arrays = _arrays(run / "model_0.npz")
    for key in _named(arrays, "left"):
        left = arrays[key].copy()
        left[np.flatnonzero(left != -1)[0]] = 0  # the root's child is the root
        arrays[key] = left
    np.savez(run / "model_0.npz", **arrays)


def _cycle(run: Path) -> None:
    arrays = _arrays(run / "model_0.npz")
    for key in _named(arrays, "right"):
        right = arrays[key].copy()
        inner = np.flatnonzero(right != -1)
        right[inner[1]] = inner[0]  # a deeper node points back up: a cycle, not a self-loop
        arrays[key] = right
    np.savez(run / "model_0.npz", **arrays)


def _shapes(run: Path) -> None:
    arrays = _arrays(run / "model_0.npz")
    for key in _named(arrays, "threshold"):
        arrays[key] = arrays[key][:3]
    np.savez(run / "model_0.npz", **arrays)


def _object(run: Path) -> None:
    arrays = _arrays(run / "model_0.npz")
    crafted = io.BytesIO()
    np.save(crafted, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(run / "model_0.npz", "w") as z:
        for i, (k, v) in enumerate(arrays.items()):
            plain = io.BytesIO()
            np.save(plain, v)
            z.writestr(k + ".npy", crafted.getvalue() if i == 0 else plain.getvalue())


def _json(name: str, edit):
    def action(run: Path) -> None:
        (run / name).write_text(edit((run / name).read_text()))

    return action


DAMAGE = {
    "broken json": _json("model_0.json", lambda t: t[: len(t) // 2]),
    "truncated npz": lambda run: (run / "model_0.npz").write_bytes(
        (run / "model_0.npz").read_bytes()[:300]
    ),
    "empty npz": lambda run: (run / "model_0.npz").write_bytes(b""),
    "object array": _object,
    "wrong shapes": _shapes,
    "self-loop": _self_loop,
    "cycle": _cycle,
    "garbage encoder": _json("encoder.json", lambda t: "{oops"),
    "fit.json a list": _json("fit.json", lambda t: "[1, 2]"),
    "newer format": _json("fit.json", lambda t: json.dumps({**json.loads(t), "format": 99})),
    "missing model": lambda run: (run / "model_0.npz").unlink(),
}


def _forge(run: Path) -> None:
    """Recompute the manifest's checksums, as a careful forger would."""
    manifest = json.loads((run / "manifest.json").read_text())
    for name in manifest["checksums"]:
        if (run / name).is_file():
            digest = hashlib.sha256((run / name).read_bytes()).hexdigest()
            manifest["checksums"][name] = digest
    (run / "manifest.json").write_text(json.dumps(manifest))


class _Hang(Exception):
    pass


def _load_within(run: Path, seconds: int = 60):
    def stop(*_):
        raise _Hang(f"load_model({run}) did not return within {seconds} s")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        return load_model(run)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_an_intact_run_loads_and_records_its_format_and_checksums(rf_run):
    fitted = _load_within(rf_run)
    assert json.loads((rf_run / "fit.json").read_text())["format"] == 1
    assert set(json.loads((rf_run / "manifest.json").read_text())["checksums"]) >= {
        "fit.json", "encoder.json", "spec.toml", "model_0.npz", "model_0.json"
    }  # fmt: skip
    assert fitted.targets == ["HV"]


@pytest.mark.parametrize("forged", [False, True], ids=["checksums", "forged-checksums"])
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_every_damage_is_one_model_file_error(rf_run, tmp_path, damage, forged):
    run = tmp_path / "run"
    shutil.copytree(rf_run, run)
    DAMAGE[damage](run)
    if forged:
        _forge(run)
    with pytest.raises(ModelFileError) as info:
        _load_within(run)
    assert len(info.value.lines) == 1, info.value.lines
    assert str(run) in info.value.lines[0]
    if not forged and damage != "missing model":
        assert "checksum mismatch" in info.value.lines[0]
