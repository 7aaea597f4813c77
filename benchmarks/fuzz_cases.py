"""The adversarial cases of ``benchmarks/fuzz_cli.py``, by command.

Each case writes its inputs into a fresh folder (``{d}`` in its arguments), runs one or more
``psplab`` commands, and says what a correct answer is: ``error`` (a bad input must be refused
with exit 2 and a message), ``ok`` (a good input must work) or ``any`` (either, but cleanly).
Cases are grouped by the kind of input, not by a list of known bugs: malformed tables,
encodings, binary files, hostile specs and units, tampered model directories, foreign and
damaged databases, absurd sizes, hostile images and names.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass
class Case:
    """One adversarial run."""

    id: str
    steps: list[list[str]]
    expect: str = "error"  # error | ok | any
    setup: Callable[[Path], None] = lambda d: None
    match: str | None = None  # regex the message (stderr on error, stdout on success) holds
    check: Callable[[Path, str, str], str | None] | None = None  # known right answer
    fixtures: tuple[str, ...] = ()
    timeout: float | None = None
    max_error_lines: int | None = 25

    @property
    def area(self) -> str:
        return self.id.split("/")[0]


# --- inputs ------------------------------------------------------------------------------------

COLUMNS = ["T", "time", "HV"]


def table(n: int = 40, seed: int = 0) -> pd.DataFrame:
    """A smooth, learnable toy table: hardness from temperature and time."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(300, 900, n).round(1)
    time_h = rng.uniform(1, 100, n).round(2)
    hv = (100 + 0.2 * t + 10 * np.log(time_h) + rng.normal(0, 2, n)).round(1)
    return pd.DataFrame({"T": t, "time": time_h, "HV": hv})


def csv_text(frame: pd.DataFrame | None = None) -> str:
    return (table() if frame is None else frame).to_csv(index=False)


def spec_text(
    source: str = "d.csv",
    top: str = "",
    units: tuple[str, str, str] = ("degC", "h", "HV"),
    names: tuple[str, str, str] = ("T", "time", "HV"),
    extra: str = "",
) -> str:
    roles = ("processing", "processing", "property")
    cols = "".join(
        f'\n[[column]]\nname = "{n}"\nrole = "{r}"\nunit = "{u}"\n'
        for n, r, u in zip(names, roles, units, strict=True)
    )
    return f'name = "fuzz"\nsource = "{source}"\n{top}\n{cols}{extra}'


def files(**contents: str | bytes) -> Callable[[Path], None]:
    """A setup writing ``name=content`` files (``__`` in a name is a ``/``, ``_dot_`` a ``.``)."""

    def setup(d: Path) -> None:
        for name, content in contents.items():
            path = d / name.replace("__", "/").replace("_dot_", ".")
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")

    return setup


def dataset(data: str | bytes | None = None, spec: str | None = None, name: str = "d.csv"):
    """Setup of a spec ``s.toml`` and its data file."""

    def setup(d: Path) -> None:
        (d / "s.toml").write_text(spec if spec is not None else spec_text(source=name))
        content = csv_text() if data is None else data
        target = d / name
        target.write_bytes(content if isinstance(content, bytes) else content.encode())

    return setup


def parquet_bytes(frame: pd.DataFrame | None = None) -> bytes:
    buf = io.BytesIO()
    (table() if frame is None else frame).to_parquet(buf, index=False)
    return buf.getvalue()


def png_bytes(array: np.ndarray, palette: bool = False) -> bytes:
    """PNG of ``array``; ``palette`` stores it as palette indices (a grey ramp palette)."""
    from PIL import Image

    image = Image.fromarray(array)
    if palette:
        image = Image.frombytes("P", image.size, array.astype(np.uint8).tobytes())
        image.putpalette([v for i in range(256) for v in (i, i, i)])
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def squares(n: int = 4, size: int = 16) -> np.ndarray:
    """``n x n`` square grains of ``size`` pixels: a label image with a known answer."""
    return np.repeat(np.repeat(np.arange(n * n).reshape(n, n), size, 0), size, 1)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def strict_json(path: Path) -> object:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} in JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


# --- checks --------------------------------------------------------------------------------------


def unchanged(name: str, digest_file: str = "digest.txt") -> Callable[[Path, str, str], str | None]:
    def check(d: Path, out: str, err: str) -> str | None:
        if sha(d / name) != (d / digest_file).read_text().strip():
            return f"{name} was modified by a command that should leave it alone"
        extra = sorted(p.name for p in d.iterdir() if p.name.startswith(name + "-"))
        return f"{name}: the command created {extra}" if extra else None

    return check


def with_digest(setup: Callable[[Path], None], name: str) -> Callable[[Path], None]:
    def both(d: Path) -> None:
        setup(d)
        (d / "digest.txt").write_text(sha(d / name))

    return both


def no_secret(d: Path, out: str, err: str) -> str | None:
    return "a cell of the foreign file was echoed" if "TOPSECRET" in out + err else None


def json_file(name: str, test: Callable[[object], str | None] | None = None):
    def check(d: Path, out: str, err: str) -> str | None:
        try:
            data = strict_json(d / name)
        except (OSError, ValueError) as exc:
            return f"{name}: not strict JSON ({exc})"
        return test(data) if test else None

    return check


def finite_predictions(d: Path, out: str, err: str) -> str | None:
    frame = pd.read_csv(d / "pred.csv")
    suffixes = ("_mean", "_std", "_q05", "_q95")
    cols = [c for c in frame.columns if c.startswith("HV_") and c.endswith(suffixes)]
    values = frame[cols].to_numpy(dtype=float)
    if not cols or not np.isfinite(values).all():
        return "predictions missing or not finite"
    return None


def stdout_says(pattern: str):
    import re

    def check(d: Path, out: str, err: str) -> str | None:
        return None if re.search(pattern, out) else f"stdout does not say {pattern!r}"

    return check


FIXTURES: dict[str, Case] = {
    "rf": Case(
        "fixture/rf",
        [["fit", "{d}/s.toml", "--model", "rf", "--out", "{d}/run"]],
        setup=dataset(),
    ),
    "campaign": Case(
        "fixture/campaign",
        [["campaign", "init", "{d}/s.toml", "--db", "{d}/c.db", "--objective", "HV"]],
        setup=files(
            s_dot_toml=spec_text()
            .replace('source = "d.csv"\n', "")
            .replace('unit = "degC"', 'unit = "degC"\nmin = 300\nmax = 900')
            .replace('unit = "h"', 'unit = "h"\nmin = 1\nmax = 100')
        ),
    ),
    "recipe": Case(
        "fixture/recipe",
        [["sim", "recipe", "--family", "ferritic_steel", "--grid", "32", "--out", "{d}/rec"]],
    ),
}


def all_cases() -> list[Case]:
    """Every case, in a stable order."""
    from fuzz_cases_more import more_cases

    return data_cases() + more_cases()


def _garbage(n: int = 4096, seed: int = 1) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def data_cases() -> list[Case]:
    """``validate`` (and ``evaluate``) on malformed tables and hostile specs."""
    good = csv_text()
    lines = good.splitlines()
    trailing = lines[0] + "\n" + "".join(line + ",\n" for line in lines[1:])
    extra_field = "\n".join(lines[:5] + [lines[5] + ",7"] + lines[6:]) + "\n"
    fewer = "\n".join(lines[:5] + [lines[5].rsplit(",", 1)[0]] + lines[6:]) + "\n"
    latin = "\n".join([lines[0] + ",note"] + [line + ",20 °C" for line in lines[1:]]) + "\n"
    note_spec = spec_text(extra='\n[[column]]\nname = "note"\nrole = "ignore"\n')
    validate = [["validate", "{d}/s.toml"]]
    cases = [
        Case("data/good", validate, "ok", dataset(), match="40 rows"),
        Case(
            "data/trailing-comma-every-row", validate, "error", dataset(trailing), match="trailing"
        ),
        Case(
            "data/trailing-comma-evaluate",
            [["evaluate", "{d}/s.toml", "--models", "rf", "--cv", "3", "--out", "{d}/ev"]],
            "error",
            dataset(trailing),
        ),
        Case("data/extra-field-mid-row", validate, "error", dataset(extra_field), match="row 5"),
        Case("data/fewer-fields", validate, "error", dataset(fewer), match="row 5"),
        Case(
            "data/latin1",
            validate,
            "error",
            dataset(latin.encode("latin-1"), note_spec),
            match="UTF-8",
        ),
        Case(
            "data/latin1-declared",
            validate,
            "ok",
            dataset(latin.encode("latin-1"), 'encoding = "latin-1"\n' + note_spec),
        ),
        Case("data/utf16-bom", validate, "ok", dataset(good.encode("utf-16"))),
        Case("data/utf8-bom", validate, "ok", dataset(codecs.BOM_UTF8 + good.encode())),
        Case("data/binary-garbage", validate, "error", dataset(_garbage())),
        Case(
            "data/parquet-named-csv", validate, "error", dataset(parquet_bytes()), match="Parquet"
        ),
        Case(
            "data/xlsx-named-csv",
            validate,
            "error",
            dataset(b"PK\x03\x04" + _garbage(200)),
            match="Excel",
        ),
        Case("data/gzip-named-csv", validate, "error", dataset(gzip.compress(good.encode()))),
        Case(
            "data/unterminated-quote",
            validate,
            "error",
            dataset(good.replace("\n", '\n"', 3).replace('\n"', "\n", 2)),
            match="quote",
        ),
        Case(
            "data/duplicate-header",
            validate,
            "error",
            dataset(good.replace("T,time,HV", "T,T,HV")),
            match="twice",
        ),
        Case("data/empty-file", validate, "error", dataset(b"")),
        Case("data/header-only", validate, "error", dataset("T,time,HV\n")),
        Case(
            "data/garbage-parquet",
            validate,
            "error",
            dataset(_garbage(), spec_text("d.parquet"), "d.parquet"),
        ),
        Case(
            "data/truncated-parquet",
            validate,
            "error",
            dataset(parquet_bytes()[:300], spec_text("d.parquet"), "d.parquet"),
        ),
        Case(
            "data/good-parquet",
            validate,
            "ok",
            dataset(parquet_bytes(), spec_text("d.parquet"), "d.parquet"),
        ),
        Case(
            "data/source-outside-folder",
            validate,
            "error",
            files(
                secret__x_dot_csv="T,time,HV\nTOPSECRET,1,2\n",
                proj__s_dot_toml=spec_text("../secret/x.csv"),
            ),
            check=no_secret,
        ),
        Case(
            "data/source-outside-allowed",
            [["validate", "{d}/proj/s.toml"]],
            "ok",
            files(
                secret__x_dot_csv=good,
                proj__s_dot_toml=spec_text("../secret/x.csv", "allow_outside = true"),
            ),
        ),
        Case(
            "data/source-number",
            validate,
            "error",
            dataset(spec=spec_text().replace('"d.csv"', "5")),
            match="source",
        ),
        Case(
            "data/source-list",
            validate,
            "error",
            dataset(spec=spec_text().replace('"d.csv"', '["d.csv"]')),
        ),
        Case(
            "data/source-missing",
            validate,
            "error",
            dataset(spec=spec_text("nope.csv")),
            match="not found",
        ),
        Case(
            "data/source-folder", validate, "error", files(s_dot_toml=spec_text("sub"), sub__x="")
        ),
        Case(
            "data/absent-none",
            validate,
            "error",
            dataset(spec=spec_text().replace('unit = "h"', 'unit = "h"\nabsent = "none"')),
            match="absent",
        ),
        Case("data/unit-HV-docs-example", validate, "ok", dataset()),
        Case(
            "data/unit-HRC-HB", validate, "ok", dataset(spec=spec_text(units=("degC", "h", "HRC")))
        ),
        Case(
            "data/unit-at-dot-percent",
            validate,
            "ok",
            dataset(spec=spec_text(units=("degC", "at.%", "HV"))),
        ),
        Case(
            "data/unit-mass-percent",
            validate,
            "ok",
            dataset(spec=spec_text(units=("degC", "mass%", "HV"))),
        ),
        Case(
            "data/unit-bare-C",
            validate,
            "error",
            dataset(spec=spec_text(units=("C", "h", "HV"))),
            match="degC",
        ),
        Case(
            "data/unit-unknown",
            validate,
            "error",
            dataset(spec=spec_text(units=("degC", "blorp", "HV"))),
        ),
        Case(
            "data/unit-number",
            validate,
            "error",
            dataset(spec=spec_text().replace('unit = "h"', "unit = 5")),
        ),
        Case(
            "data/20000-unknown-columns",
            validate,
            "error",
            dataset(
                ",".join(COLUMNS + [f"x{i}" for i in range(20000)])
                + "\n"
                + ",".join(["1"] * 20003)
                + "\n"
            ),
        ),
        Case("data/unknown-spec-key", validate, "error", dataset(spec=spec_text(top="sorce = 1"))),
        Case("data/spec-not-toml", validate, "error", files(s_dot_toml="[[column]\nname = ")),
        Case("data/spec-missing", [["validate", "{d}/nope.toml"]], "error"),
        Case("data/spec-is-folder", [["validate", "{d}"]], "error"),
        Case("data/spec-binary", validate, "error", files(s_dot_toml=_garbage())),
        Case(
            "data/column-not-a-list",
            validate,
            "error",
            files(s_dot_toml='name = "x"\ncolumn = 5\n'),
        ),
        Case(
            "data/markup-column-name",
            validate,
            "any",
            dataset(
                good.replace("T,time", "[/bold],time"), spec_text(names=("[/bold]", "time", "HV"))
            ),
        ),
        Case(
            "data/mathtext-column-name-evaluate",
            [["evaluate", "{d}/s.toml", "--models", "rf", "--cv", "3", "--out", "{d}/ev"]],
            "ok",
            dataset(
                good.replace("T,time,HV", "T,time,price $\\foo{$"),
                spec_text(names=("T", "time", "price $\\\\foo{$")),
            ),
            timeout=60,
        ),
        Case(
            "data/nan-in-processing",
            validate,
            "error",
            dataset(good.replace(lines[3], "nan," + lines[3].split(",", 1)[1])),
        ),
        Case(
            "data/inf-in-target",
            validate,
            "error",
            dataset(good.replace(lines[3], lines[3].rsplit(",", 1)[0] + ",inf")),
        ),
        Case(
            "data/overflow-cell",
            validate,
            "error",
            dataset(good.replace(lines[3], "1e400," + lines[3].split(",", 1)[1])),
        ),
        Case(
            "data/semicolons", validate, "error", dataset(good.replace(",", ";")), match="delimiter"
        ),
        Case(
            "data/formula-column",
            validate,
            "ok",
            dataset(
                "alloy,T,HV\nAl0.5CoCrFeNi,900,210\nCoCrFeNi,900,160\nFe-18Cr-8Ni,1000,180\n",
                'name = "f"\nsource = "d.csv"\n[[column]]\nname = "alloy"\nrole = "processing"\n'
                'kind = "formula"\n[[column]]\nname = "T"\nrole = "processing"\nunit = "degC"\n'
                '[[column]]\nname = "HV"\nrole = "property"\nunit = "HV"\n',
            ),
            match="alloy_Ni",
        ),
        Case(
            "data/formula-bad-cell",
            validate,
            "error",
            dataset(
                "alloy,T,HV\nAl0.5CoCrFeNi,900,210\nCoCrFeNiXx,900,160\n",
                'name = "f"\nsource = "d.csv"\n[[column]]\nname = "alloy"\nrole = "processing"\n'
                'kind = "formula"\n[[column]]\nname = "T"\nrole = "processing"\nunit = "degC"\n'
                '[[column]]\nname = "HV"\nrole = "property"\nunit = "HV"\n',
            ),
            match="row 2.*CoCrFeNiXx",
        ),
        Case(
            "data/min-above-max",
            validate,
            "error",
            dataset(spec=spec_text().replace('unit = "h"', 'unit = "h"\nmin = 5\nmax = 1')),
        ),
        Case(
            "data/empty-header-cell", validate, "error", dataset(good.replace("T,time,HV", "T,,HV"))
        ),
        Case(
            "data/spaces-in-header",
            validate,
            "error",
            dataset(good.replace("T,time,HV", "T, time,HV")),
            match="spaces",
        ),
        Case(
            "data/tier-negative",
            validate,
            "error",
            dataset(spec=spec_text().replace('unit = "h"', 'unit = "h"\ntier = -1')),
        ),
        Case(
            "data/role-missing",
            validate,
            "error",
            dataset(spec=spec_text().replace('role = "processing"\nunit = "h"', 'unit = "h"')),
        ),
        Case(
            "data/megabyte-cell",
            validate,
            "any",
            dataset(good.replace(lines[3], "x" * 1_000_000 + "," + lines[3].split(",", 1)[1])),
        ),
        Case("data/old-mac-line-endings", validate, "ok", dataset(good.replace("\n", "\r"))),
        Case("data/crlf-line-endings", validate, "ok", dataset(good.replace("\n", "\r\n"))),
        Case(
            "data/tsv",
            validate,
            "ok",
            dataset(good.replace(",", "\t"), spec_text("d.tsv"), "d.tsv"),
        ),
        Case(
            "data/trailing-separator-every-line",
            validate,
            "ok",
            dataset(good.replace("\n", ",\n")),
            match="40 rows",
        ),
        Case(
            "data/formula-as-target",
            validate,
            "error",
            dataset(
                spec=spec_text().replace(
                    'role = "property"\nunit = "HV"', 'role = "property"\nkind = "formula"'
                )
            ),
        ),
        Case(
            "data/compound-unit",
            validate,
            "ok",
            dataset(spec=spec_text(units=("degC", "h", "HV/wt%"))),
        ),
        Case(
            "data/decimal-commas",
            validate,
            "error",
            dataset(good.replace(",", ";").replace(".", ","), 'delimiter = ";"\n' + spec_text()),
        ),
        Case(
            "data/100k-rows",
            validate,
            "ok",
            dataset(csv_text(table(100_000))),
            match="100000 rows",
        ),
    ]
    return cases
