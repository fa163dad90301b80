"""The documents a reader meets: the README stays short and leads with install, use and
results; every link and every cited repository file exists."""

import re

from conftest import ROOT

DOCS = [
    "README.md",
    "BUILD_NOTES.md",
    *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")),
]
CITED = re.compile(
    r"`((?:studies|results|benchmarks|tests|dssec_jax|examples|docs|experiments|\.ci)/[^`\s]*)`"
)


def test_the_readme_is_short_and_leads_with_install_use_and_results():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 250
    first_screen = "\n".join(lines[:50])
    for what in ("pip install -e .", "pytest", "## Use it from Python", "docs/results.md"):
        assert what in first_screen, what


def test_every_link_and_cited_file_exists():
    missing = []
    for name in DOCS:
        path = ROOT / name
        text = path.read_text()
        for m in re.finditer(r"\]\(([^)\s]+)\)", text):
            link = m.group(1).split("#")[0]
            if (
                link
                and not link.startswith(("http", "mailto"))
                and not (path.parent / link).exists()
            ):
                missing.append(f"{name}: link {m.group(1)}")
        for m in CITED.finditer(text):
            cited = m.group(1).rstrip(".,:;)")
            if any(c in cited for c in "*<{[$") or "..." in cited:
                continue  # a pattern, not one file
            if not (ROOT / cited.split("::")[0]).exists():
                missing.append(f"{name}: {cited}")
    assert not missing, missing


def test_no_document_refers_to_issue_numbers():
    for name in DOCS:
        text = (ROOT / name).read_text()
        assert not re.search(r"\b[Ii]ssue \d+|\b[Ii]ssue #\d+", text), name
