"""The repository's tracked text: no merge left half done (a conflict marker once reached the
README and bench/README.md through a merge that nothing else checked)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(rb"^(<{7} |={7}$|>{7} )", re.MULTILINE)


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [ROOT / name for name in out.stdout.decode().split("\0") if name]


def test_no_conflict_markers_in_tracked_files() -> None:
    marked = []
    for path in tracked_files():
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096]:  # binary
            continue
        if MARKER.search(data):
            marked.append(str(path.relative_to(ROOT)))
    assert marked == []


def test_the_marker_pattern_finds_a_conflict() -> None:
    text = b"a\n<<<<<<< HEAD\nb\n=======\nc\n>>>>>>> main\n"
    assert len(MARKER.findall(text)) == 3
    assert not MARKER.search(b"<<<<<<<< eight\n======== eight\n")
