"""Adversarial cases for the commands after ``validate``: models, causal, simulation, measure,
mechanics, campaigns, optimize, phasemap, report, demo and the CLI itself."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from fuzz_cases import (
    Case,
    csv_text,
    dataset,
    files,
    finite_predictions,
    json_file,
    no_secret,
    npy_bytes,
    png_bytes,
    spec_text,
    squares,
    stdout_says,
    table,
    unchanged,
    with_digest,
)


def model_cases() -> list[Case]:
    """fit / evaluate / predict: degenerate tables, bad options, tampered model directories."""
    good = csv_text()
    one_row = "\n".join(good.splitlines()[:2]) + "\n"
    no_target = "T,time,HV\n" + "".join(f"{300 + i},{1 + i},\n" for i in range(20))
    fit = ["fit", "{d}/s.toml", "--out", "{d}/run"]
    evaluate = ["evaluate", "{d}/s.toml", "--out", "{d}/ev"]
    predict = ["predict", "{d}/rf/run", "{d}/new.csv", "--out", "{d}/pred.csv"]
    new = files(new_dot_csv=csv_text(table(8, seed=3)[["T", "time"]]))
    cases = [
        Case("models/fit-one-row", [[*fit, "--model", "rf"]], "any", dataset(one_row)),
        Case(
            "models/fit-all-missing-target", [[*fit, "--model", "rf"]], "error", dataset(no_target)
        ),
        Case("models/fit-unknown-model", [[*fit, "--model", "nope"]], "error", dataset()),
        Case(
            "models/fit-epochs-1e10",
            [[*fit, "--model", "bhn", "--param", "epochs=1e10"]],
            "error",
            dataset(),
        ),
        Case(
            "models/fit-unknown-param",
            [[*fit, "--model", "rf", "--param", "bogus=1"]],
            "error",
            dataset(),
        ),
        Case("models/evaluate-models-comma", [[*evaluate, "--models", ","]], "error", dataset()),
        Case(
            "models/evaluate-cv-1", [[*evaluate, "--models", "rf", "--cv", "1"]], "error", dataset()
        ),
        Case(
            "models/evaluate-cv-1000",
            [[*evaluate, "--models", "rf", "--cv", "1000"]],
            "error",
            dataset(),
        ),
        Case(
            "models/evaluate-unknown-group",
            [[*evaluate, "--models", "rf", "--group", "nope"]],
            "error",
            dataset(),
        ),
        Case(
            "models/evaluate-rf-good",
            [[*evaluate, "--models", "rf", "--cv", "3", "--json", "{d}/m.json"]],
            "ok",
            dataset(),
            check=json_file(
                "m.json",
                lambda m: None if m["rf"]["HV"]["r2"] > 0.5 else f"r2 {m['rf']['HV']['r2']}",
            ),
            timeout=60,
        ),
        Case(
            "models/evaluate-constant-target",
            [[*evaluate, "--models", "rf", "--cv", "3"]],
            "any",
            dataset("T,time,HV\n" + "".join(f"{300 + i},{1 + i},100\n" for i in range(30))),
        ),
        Case(
            "models/predict-good", [predict], "ok", new, check=finite_predictions, fixtures=("rf",)
        ),
        Case(
            "models/predict-huge-inputs",
            [predict],
            "any",
            files(new_dot_csv="T,time\n1e300,1e300\n-1e300,5\n"),
            check=lambda d, o, e: (
                finite_predictions(d, o, e) if (d / "pred.csv").exists() else None
            ),
            fixtures=("rf",),
        ),
        Case(
            "models/predict-missing-column",
            [predict],
            "error",
            files(new_dot_csv="T\n400\n"),
            fixtures=("rf",),
        ),
        Case(
            "models/predict-text-cell",
            [predict],
            "error",
            files(new_dot_csv="T,time\n400,abc\n"),
            fixtures=("rf",),
        ),
        Case(
            "models/predict-trailing-comma",
            [predict],
            "error",
            files(new_dot_csv="T,time\n400,5,\n500,6,\n"),
            fixtures=("rf",),
        ),
        Case(
            "models/predict-binary-input",
            [predict],
            "error",
            files(new_dot_csv=bytes(range(256))),
            fixtures=("rf",),
        ),
        Case(
            "models/predict-no-run-dir",
            [["predict", "{d}/nope", "{d}/new.csv", "--out", "{d}/p.csv"]],
            "error",
            new,
        ),
    ]
    cases += [Case(f"models/tampered-{name}", [predict], "error", _tamper(action), fixtures=("rf",), max_error_lines=3)
              for name, action in TAMPERING.items()]  # fmt: skip
    return cases


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _keys(arrays: dict[str, np.ndarray], name: str) -> list[str]:
    """Keys of the arrays called ``name`` (wrappers prefix them, e.g. ``full__m__left``)."""
    found = [k for k in arrays if (k == name or k.endswith("__" + name)) and arrays[k].ndim]
    if not found:
        raise KeyError(name)
    return found


def _self_loop(run: Path) -> None:
    arrays = _npz_arrays(run / "model_0.npz")
    for key in _keys(arrays, "left"):
        left = arrays[key].copy()
        left[np.flatnonzero(left != -1)[0]] = 0  # the root's child is the root: an endless walk
        arrays[key] = left
    np.savez(run / "model_0.npz", **arrays)


def _object_array(run: Path) -> None:
    arrays = _npz_arrays(run / "model_0.npz")
    crafted = io.BytesIO()
    np.save(crafted, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    target = (
        _keys(arrays, "threshold")[0]
        if any(k.endswith("threshold") for k in arrays)
        else next(iter(arrays))
    )
    with zipfile.ZipFile(run / "model_0.npz", "w") as z:
        for k, v in arrays.items():
            inner = io.BytesIO()
            np.save(inner, v)
            z.writestr(k + ".npy", crafted.getvalue() if k == target else inner.getvalue())


def _wrong_shape(run: Path) -> None:
    arrays = _npz_arrays(run / "model_0.npz")
    for key in _keys(arrays, "threshold"):
        arrays[key] = arrays[key][:3]
    np.savez(run / "model_0.npz", **arrays)


def _rewrite_manifest_checksums(run: Path) -> None:
    """What a careful forger does: make the manifest agree with the tampered files."""
    import hashlib

    manifest = json.loads((run / "manifest.json").read_text())
    for name in manifest.get("checksums", {}):
        if (run / name).is_file():
            manifest["checksums"][name] = hashlib.sha256((run / name).read_bytes()).hexdigest()
    (run / "manifest.json").write_text(json.dumps(manifest))


def _forged(action):
    def both(run: Path) -> None:
        action(run)
        _rewrite_manifest_checksums(run)

    return both


def _edit_json(name: str, edit) -> callable:
    def action(run: Path) -> None:
        path = run / name
        path.write_text(edit(path.read_text()))

    return action


TAMPERING = {
    "broken-model-json": _edit_json("model_0.json", lambda t: t[: len(t) // 2]),
    "unknown-model-name": _edit_json("model_0.json", lambda t: t.replace('"rf"', '"zz"', 1)),
    "truncated-npz": lambda run: (run / "model_0.npz").write_bytes(
        (run / "model_0.npz").read_bytes()[:200]
    ),
    "empty-npz": lambda run: (run / "model_0.npz").write_bytes(b""),
    "object-array": _object_array,
    "wrong-shapes": _wrong_shape,
    "rf-self-loop": _self_loop,
    "fit-json-missing": lambda run: (run / "fit.json").unlink(),
    "encoder-garbage": _edit_json("encoder.json", lambda t: "{not json"),
    "spec-deleted": lambda run: (run / "spec.toml").unlink(),
    "model-file-missing": lambda run: (run / "model_0.npz").unlink(),
    "fit-json-list": _edit_json("fit.json", lambda t: "[1, 2]"),
    # The same damage with the manifest's checksums recomputed: caught by the files' own checks.
    "forged-rf-self-loop": _forged(_self_loop),
    "forged-wrong-shapes": _forged(_wrong_shape),
    "forged-object-array": _forged(_object_array),
    "forged-truncated-npz": _forged(
        lambda run: (run / "model_0.npz").write_bytes((run / "model_0.npz").read_bytes()[:200])
    ),
    "forged-newer-format": _forged(
        _edit_json("fit.json", lambda t: json.dumps({**json.loads(t), "format": 99}))
    ),
}


def _tamper(action):
    def setup(d: Path) -> None:
        (d / "new.csv").write_text(csv_text(table(8, seed=3)[["T", "time"]]))
        action(d / "rf" / "run")

    return setup


def causal_sim_cases() -> list[Case]:
    """causal, simulate, sim recipe, sim pfhub1: absurd sizes and values."""
    causal = ["causal", "{d}/s.toml", "--out", "{d}/c"]
    comp = "Fe,Cr,Si,T,HV\n" + "".join(
        f"{80 - i % 7},{20 + i % 7},0,{400 + 13 * i},{200 + 3 * i % 50}\n" for i in range(40)
    )
    comp_spec = (
        'name = "comp"\nsource = "d.csv"\n'
        + "".join(
            f'[[column]]\nname = "{c}"\nrole = "processing"\nunit = "at%"\n'
            for c in ("Fe", "Cr", "Si")
        )
        + '[[column]]\nname = "T"\nrole = "processing"\nunit = "degC"\n'
        + '[[column]]\nname = "HV"\nrole = "property"\nunit = "HV"\n'
    )
    sim = ["simulate", "--out", "{d}/sim.parquet"]
    recipe = ["sim", "recipe", "--family", "ferritic_steel", "--out", "{d}/r"]
    return [
        Case("causal/bootstrap-1e9", [[*causal, "--bootstrap", "1000000000"]], "error", dataset()),
        Case(
            "causal/composition-constant-column",
            [[*causal, "--bootstrap", "0", "--dose-top", "0"]],
            "any",
            dataset(comp, comp_spec),
            timeout=90,
        ),
        Case(
            "causal/exclude-unknown",
            [[*causal, "--exclude", "nope", "--bootstrap", "0"]],
            "error",
            dataset(),
        ),
        Case("causal/alpha-2", [[*causal, "--alpha", "2", "--bootstrap", "0"]], "error", dataset()),
        Case(
            "causal/unknown-test",
            [[*causal, "--test", "nope", "--bootstrap", "0"]],
            "error",
            dataset(),
        ),
        Case("simulate/grid-100000", [[*sim, "--grid", "100000", "--n", "2"]], "error"),
        Case("simulate/n-1e9", [[*sim, "--n", "1000000000"]], "error"),
        Case(
            "simulate/workers-500",
            [[*sim, "--n", "2", "--grid", "16", "--workers", "500"]],
            "error",
        ),
        Case("simulate/n-0", [[*sim, "--n", "0"]], "error"),
        Case("simulate/unknown-design", [[*sim, "--design", "nope"]], "error"),
        Case("simulate/unknown-family", [[*sim, "--family", "nope"]], "error"),
        Case("sim/recipe-grid-100000", [[*recipe, "--grid", "100000"]], "error"),
        Case("sim/recipe-grid-0", [[*recipe, "--grid", "0"]], "error"),
        Case("sim/recipe-negative-time", [[*recipe, "--hold-time-s", "-5"]], "error"),
        Case("sim/recipe-nan-temperature", [[*recipe, "--hold-temperature-C", "nan"]], "error"),
        Case(
            "sim/recipe-unknown-family",
            [["sim", "recipe", "--family", "nope", "--out", "{d}/r"]],
            "error",
        ),
        Case(
            "sim/pfhub1-n-100000", [["sim", "pfhub1", "--out", "{d}/p", "--n", "100000"]], "error"
        ),
        Case("sim/pfhub1-dt-0", [["sim", "pfhub1", "--out", "{d}/p", "--dt", "0"]], "error"),
        Case(
            "sim/pfhub1-dtype", [["sim", "pfhub1", "--out", "{d}/p", "--dtype", "float16"]], "error"
        ),
    ]


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _bomb(d: Path, name: str = "bomb.png") -> None:
    from PIL import Image

    Image.new("1", (20000, 20000)).save(d / name)


def measure_cases() -> list[Case]:
    """measure and mechanics: hostile images and pixel sizes."""
    grains = files(g_dot_npy=npy_bytes(squares()))
    measure = ["measure", "{d}/g.npy", "--pixel-um"]
    cases = [
        Case(f"measure/pixel-{p}", [[*measure, p]], "error", grains)
        for p in ("1e-300", "0", "-1", "inf")
    ]
    cases += [
        Case(
            "measure/bomb-png",
            [["measure", "{d}/bomb.png", "--pixel-um", "1"]],
            "error",
            _bomb,
            match="pixels",
        ),
        Case(
            "measure/all-zero-grains",
            [["measure", "{d}/z.npy", "--pixel-um", "1", "--kind", "grains"]],
            "error",
            files(z_dot_npy=npy_bytes(np.zeros((64, 64), dtype=np.int64))),
            match="no grain",
        ),
        Case(
            "measure/3d-npy",
            [["measure", "{d}/a.npy", "--pixel-um", "1"]],
            "error",
            files(a_dot_npy=npy_bytes(np.zeros((2, 3, 4)))),
        ),
        Case(
            "measure/sim-recipe-npz",
            [
                [
                    "measure",
                    "{d}/recipe/rec/microstructure.npz",
                    "--kind",
                    "grains",
                    "--json",
                    "{d}/m.json",
                ]
            ],
            "ok",
            fixtures=("recipe",),
            check=json_file("m.json", lambda m: None if m["grain_count"] >= 2 else "no grains"),
        ),
        Case(
            "measure/known-16-grains",
            [[*measure, "0.5", "--kind", "grains", "--periodic", "--json", "{d}/m.json"]],
            "ok",
            grains,
            check=json_file(
                "m.json", lambda m: None if m["grain_count"] == 16 else f"{m['grain_count']} grains"
            ),
        ),
        Case(
            "measure/garbage-png",
            [["measure", "{d}/x.png", "--pixel-um", "1"]],
            "error",
            files(x_dot_png=b"\x89PNG\r\n\x1a\n" + bytes(100)),
        ),
        Case(
            "measure/truncated-png",
            [["measure", "{d}/x.png", "--pixel-um", "1"]],
            "error",
            files(
                x_dot_png=_half(
                    png_bytes(np.random.default_rng(0).integers(0, 9, (64, 64), dtype=np.uint8))
                )
            ),
        ),
        Case(
            "measure/text-as-png",
            [["measure", "{d}/x.png", "--pixel-um", "1"]],
            "error",
            files(x_dot_png="hello"),
        ),
        Case(
            "measure/colour-png",
            [["measure", "{d}/x.png", "--pixel-um", "1"]],
            "error",
            files(
                x_dot_png=png_bytes(
                    np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
                )
            ),
        ),
        Case(
            "measure/object-npy",
            [["measure", "{d}/o.npy", "--pixel-um", "1"]],
            "error",
            files(o_dot_npy=npy_bytes(np.array([{}], dtype=object), True)),
        ),
        Case("measure/unknown-kind", [[*measure, "1", "--kind", "nope"]], "error", grains),
        Case(
            "measure/npz-unknown-array",
            [["measure", "{d}/recipe/rec/microstructure.npz", "--array", "nope"]],
            "error",
            fixtures=("recipe",),
        ),  # fmt: skip
        Case(
            "measure/palette-png-labels",
            [
                [
                    "measure",
                    "{d}/p.png",
                    "--pixel-um",
                    "1",
                    "--kind",
                    "grains",
                    "--json",
                    "{d}/m.json",
                ]
            ],
            "ok",
            files(p_dot_png=png_bytes(squares().astype(np.uint8), palette=True)),
            check=json_file(
                "m.json", lambda m: None if m["grain_count"] == 16 else f"{m['grain_count']} grains"
            ),
        ),
        Case(
            "measure/16-bit-png-labels",
            [
                [
                    "measure",
                    "{d}/p.png",
                    "--pixel-um",
                    "1",
                    "--kind",
                    "grains",
                    "--json",
                    "{d}/m.json",
                ]
            ],
            "ok",
            files(p_dot_png=png_bytes((squares() * 1000).astype(np.uint16))),
            check=json_file(
                "m.json", lambda m: None if m["grain_count"] == 16 else f"{m['grain_count']} grains"
            ),
        ),
        Case(
            "measure/empty-particles-json",
            [[*measure, "1", "--kind", "particles", "--json", "{d}/m.json"]],
            "ok",
            files(g_dot_npy=npy_bytes(np.zeros((32, 32), dtype=np.uint8))),
            check=json_file("m.json"),
        ),  # fmt: skip
        Case(
            "mechanics/pixel-0",
            [["mechanics", "{d}/g.npy", "--pixel-um", "0", "--family", "al_mg"]],
            "error",
            grains,
        ),
        Case(
            "mechanics/steps-1e8",
            [
                [
                    "mechanics",
                    "{d}/g.npy",
                    "--pixel-um",
                    "1",
                    "--family",
                    "al_mg",
                    "--steps",
                    "100000000",
                ]
            ],
            "error",
            grains,
        ),
        Case(
            "mechanics/bomb",
            [["mechanics", "{d}/bomb.png", "--pixel-um", "1", "--family", "al_mg"]],
            "error",
            _bomb,
        ),
        Case(
            "mechanics/unknown-family",
            [["mechanics", "{d}/g.npy", "--pixel-um", "1", "--family", "nope"]],
            "error",
            grains,
        ),
    ]
    return cases


def _campaign_results(rows: list[tuple[float, float, float]], extra: str = "") -> str:
    head = "T,time,HV" + (f",{extra}" if extra else "")
    return (
        head
        + "\n"
        + "".join(f"{t},{h},{v}" + (",x" if extra else "") + "\n" for t, h, v in rows)
        + ""
    )


def campaign_cases() -> list[Case]:
    """campaign: reserved names, idempotent observe, foreign and damaged databases."""
    db = "{d}/campaign/c.db"
    observe = ["campaign", "observe", "{d}/r.csv", "--db", db]
    rows = [(400.0, 5.0, 200.0), (500.0, 10.0, 220.0), (600.0, 20.0, 240.0)]
    results = files(r_dot_csv=_campaign_results(rows))
    other = files(other_dot_db=_sqlite_bytes())
    status = ["campaign", "status", "--db"]
    cases = [
        Case(
            "campaign/init-reserved-column",
            [["campaign", "init", "{d}/s.toml", "--db", "{d}/c.db", "--objective", "HV"]],
            "error",
            files(
                s_dot_toml=spec_text(names=("source", "time", "HV")).replace(
                    'source = "d.csv"\n', "", 1
                )
            ),
            match="reserved",
        ),  # fmt: skip
        Case(
            "campaign/observe-reserved-column",
            [observe, ["campaign", "status", "--db", db]],
            "any",
            files(r_dot_csv=_campaign_results(rows, "source")),
            fixtures=("campaign",),
            check=stdout_says("0 observation"),
        ),  # fmt: skip
        Case(
            "campaign/observe-twice",
            [observe, observe],
            "ok",
            results,
            fixtures=("campaign",),
            match="skipped 3",
        ),
        Case(
            "campaign/observe-edited-file",
            [observe, ["campaign", "observe", "{d}/r2.csv", "--db", db]],
            "ok",
            files(
                r_dot_csv=_campaign_results(rows),
                r2_dot_csv=_campaign_results([*rows, (700.0, 30.0, 250.0)]),
            ),
            fixtures=("campaign",),
            match="stored 1 observation.*skipped 3",
        ),
        Case(
            "campaign/status-foreign-db",
            [[*status, "{d}/other.db"]],
            "error",
            with_digest(other, "other.db"),
            check=unchanged("other.db"),
        ),
        Case(
            "campaign/status-empty-file",
            [[*status, "{d}/e.db"]],
            "error",
            files(e_dot_db=b""),
            check=lambda d, o, e: (
                None if (d / "e.db").stat().st_size == 0 else "the empty file grew"
            ),
        ),  # fmt: skip
        Case(
            "campaign/export-foreign-db",
            [["campaign", "export", "--db", "{d}/other.db", "--out", "{d}/x.csv"]],
            "error",
            with_digest(other, "other.db"),
            check=unchanged("other.db"),
        ),  # fmt: skip
        Case(
            "campaign/observe-foreign-db",
            [["campaign", "observe", "{d}/r.csv", "--db", "{d}/other.db"]],
            "error",
            with_digest(lambda d: (other(d), results(d)), "other.db"),
            check=unchanged("other.db"),
        ),  # fmt: skip
        Case(
            "campaign/status-truncated",
            [[*status, "{d}/t.db"]],
            "error",
            _truncated_campaign,
            fixtures=("campaign",),
        ),
        Case(
            "campaign/status-garbage",
            [[*status, "{d}/g.db"]],
            "error",
            files(g_dot_db=b"SQLite format 3\x00" + bytes(5000)),
        ),
        Case("campaign/status-folder", [[*status, "{d}"]], "error"),
        Case("campaign/status-missing-folder", [[*status, "{d}/nope/c.db"]], "error"),
        Case(
            "campaign/observe-bad-suggestion-ids",
            [["campaign", "observe", "{d}/r.csv", "--db", db]],
            "error",
            files(
                r_dot_csv="T,time,HV,suggestion_id\n400,5,200,abc\n500,6,210,1e400\n600,7,220,99\n"
            ),
            fixtures=("campaign",),
            match="suggestion_id",
        ),  # fmt: skip
        Case(
            "campaign/observe-out-of-bounds",
            [["campaign", "observe", "{d}/r.csv", "--db", db]],
            "error",
            files(r_dot_csv="T,time,HV\n5000,5,200\n500,6,210\n"),
            fixtures=("campaign",),
            match="row 1",
        ),  # fmt: skip
        Case(
            "campaign/export-txt",
            [["campaign", "export", "--db", db, "--out", "{d}/x.txt"]],
            "error",
            fixtures=("campaign",),
        ),
        Case(
            "campaign/suggest-n-100000",
            [["campaign", "suggest", "--db", db, "--n", "100000"]],
            "error",
            fixtures=("campaign",),
        ),
        Case(
            "campaign/suggest-json",
            [["campaign", "suggest", "--db", db, "--n", "2", "--json", "{d}/s.json"]],
            "ok",
            fixtures=("campaign",),
            check=json_file("s.json"),
        ),  # fmt: skip
        Case(
            "campaign/status-json",
            [observe, ["campaign", "status", "--db", db, "--json"]],
            "ok",
            results,
            fixtures=("campaign",),
            check=lambda d, o, e: None if json.loads(o)["observations"] == 3 else "wrong count",
        ),  # fmt: skip
        Case(
            "campaign/observe-trailing-comma",
            [["campaign", "observe", "{d}/r.csv", "--db", db]],
            "error",
            files(r_dot_csv="T,time,HV\n400,5,200,\n500,6,210,\n"),
            fixtures=("campaign",),
        ),  # fmt: skip
        Case(
            "campaign/init-over-foreign-file",
            [["campaign", "init", "{d}/s.toml", "--db", "{d}/other.db", "--objective", "HV"]],
            "error",
            with_digest(lambda d: (other(d), files(s_dot_toml=spec_text())(d)), "other.db"),
            check=unchanged("other.db"),
        ),  # fmt: skip
        Case(
            "campaign/init-unknown-objective",
            [["campaign", "init", "{d}/s.toml", "--db", "{d}/n.db", "--objective", "nope"]],
            "error",
            files(s_dot_toml=spec_text()),
        ),  # fmt: skip
    ]
    return cases


def _sqlite_bytes() -> bytes:
    import sqlite3
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        con = sqlite3.connect(Path(tmp) / "x.db")
        con.execute("CREATE TABLE samples (id INTEGER, name TEXT)")
        con.execute("INSERT INTO samples VALUES (1, 'a')")
        con.commit()
        con.close()
        return (Path(tmp) / "x.db").read_bytes()


def _truncated_campaign(d: Path) -> None:
    whole = (d / "campaign" / "c.db").read_bytes()
    (d / "t.db").write_bytes(whole[: max(len(whole) // 3, 200)])


def other_cases() -> list[Case]:
    """optimize, phasemap, report, demo and the CLI."""
    opt = ["optimize", "--simulate", "--out", "{d}/o"]
    return [
        Case("optimize/budget-1e9", [[*opt, "--budget", "1000000000"]], "error"),
        Case("optimize/grid-100000", [[*opt, "--grid", "100000"]], "error"),
        Case("optimize/no-simulate", [["optimize", "--out", "{d}/o"]], "error"),
        Case("optimize/unknown-family", [[*opt, "--family", "nope"]], "error"),
        Case("optimize/batch-0", [[*opt, "--batch", "0"]], "error"),
        Case(
            "phasemap/missing-config",
            [["phasemap", "fit", "{d}/nope.toml", "--out", "{d}/p"]],
            "error",
        ),
        Case(
            "phasemap/garbage-config",
            [["phasemap", "fit", "{d}/c.toml", "--out", "{d}/p"]],
            "error",
            files(c_dot_toml=bytes(range(256))),
        ),
        Case(
            "phasemap/config-source-outside",
            [["phasemap", "fit", "{d}/proj/c.toml", "--out", "{d}/p"]],
            "error",
            files(
                secret__x_dot_csv="Fe,Ga,phase\nTOPSECRET,1,2\n",
                proj__c_dot_toml=(
                    'regions = 2\n[[structure]]\nsource = "../secret/x.csv"\ncoords = ["Fe", "Ga"]\nlabel = "phase"\n'
                ),
            ),
            check=no_secret,
        ),  # fmt: skip
        Case(
            "phasemap/predict-not-a-run",
            [["phasemap", "predict", "{d}", "{d}/g.csv", "--out", "{d}/o.csv"]],
            "error",
            files(g_dot_csv="Fe,Ga\n1,2\n"),
        ),
        Case("report/missing-run", [["report", "{d}/nope", "--out", "{d}/r.html"]], "error"),
        Case(
            "report/no-manifests",
            [["report", "{d}/empty", "--out", "{d}/r.html"]],
            "any",
            files(empty__x_dot_txt="x"),
        ),
        Case(
            "report/garbage-manifest",
            [["report", "{d}/run", "--out", "{d}/r.html"]],
            "any",
            files(run__manifest_dot_json="{oops"),
        ),
        Case(
            "demo/workers-0", [["demo", "--quick", "--workers", "0", "--out", "{d}/demo"]], "error"
        ),
        Case("demo/out-is-a-file", [["demo", "--quick", "--out", "{d}/f"]], "error", files(f="x")),
        Case("cli/unknown-command", [["frobnicate"]], "error"),
        Case("cli/version", [["--version"]], "ok", match="psplab"),
    ]


def more_cases() -> list[Case]:
    """Every case after the data ones."""
    return model_cases() + causal_sim_cases() + measure_cases() + campaign_cases() + other_cases()
