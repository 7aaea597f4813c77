"""Manifests record a checksum per file; a changed, truncated or missing file is named."""

from __future__ import annotations

import json

from psplab.manifest import MANIFEST_SCHEMA, verify_checksums, write_manifest


def test_checksums_name_every_changed_or_missing_file(tmp_path):
    (tmp_path / "a.json").write_text('{"x": 1}')
    (tmp_path / "b.npz").write_bytes(b"\x00" * 100)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.csv").write_text("a,b\n1,2\n")
    write_manifest(
        tmp_path, "fit", files={"model": [tmp_path / "a.json", "b.npz"], "table": "sub/c.csv"}
    )
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["schema"] == MANIFEST_SCHEMA >= 2
    assert sorted(manifest["checksums"]) == ["a.json", "b.npz", "sub/c.csv"]
    assert verify_checksums(tmp_path) == []
    (tmp_path / "b.npz").write_bytes(b"\x00" * 50)  # truncated
    (tmp_path / "a.json").write_text('{"x": 2}')  # edited, same length
    (tmp_path / "sub" / "c.csv").unlink()
    problems = verify_checksums(tmp_path)
    assert len(problems) == 3
    assert any("b.npz: changed since it was written" in p for p in problems)
    assert any("c.csv: missing" in p for p in problems)
    assert verify_checksums(tmp_path, ["a.json"]) == [
        f"{tmp_path / 'a.json'}: changed since it was written (checksum mismatch)"
    ]


def test_directories_without_checksums_are_not_checked(tmp_path):
    assert verify_checksums(tmp_path) == []  # no manifest
    (tmp_path / "manifest.json").write_text(json.dumps({"schema": 1, "files": {}}))
    assert verify_checksums(tmp_path) == []  # written before checksums
    (tmp_path / "manifest.json").write_text("{oops")
    assert "damaged" in verify_checksums(tmp_path)[0]
