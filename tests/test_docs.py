"""The documents a reader meets: the README stays short and leads with install, use and
results; every link and every cited repository file exists."""

import fnmatch
import json
import re
import subprocess
from pathlib import PurePosixPath

from conftest import ROOT


def tracked() -> set[str]:
    """The repository's files (a file only in this working tree does not count)."""
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.splitlines())


DOCS = [
    "README.md",
    "BUILD_NOTES.md",
    *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")),
    *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "studies").glob("*/NOTES.md")),
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
    files = tracked()
    folders = {str(p) for f in files for p in PurePosixPath(f).parents}
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
            if "..." in cited or any(c in cited for c in "{$"):
                continue  # an elision or a shell variable, not a file
            pattern = re.sub(r"<[^>]*>", "*", cited.split("::")[0]).rstrip("/")
            if not (fnmatch.filter(files, pattern) or pattern in folders):
                missing.append(f"{name}: {cited}")  # a pattern must match a tracked file
    assert not missing, missing


# (BUILD_NOTES, "Section name") or BUILD_NOTES "Section name", possibly wrapped over lines
SECTION = re.compile(r'BUILD_NOTES(?:\.md)?,?\s+\(?"([^"]+)"')


def test_every_cited_build_notes_section_exists():
    """A section of the design record cited by name elsewhere is a heading (or a bold
    label) there, so moving a section cannot leave its citations pointing nowhere."""
    notes = (ROOT / "BUILD_NOTES.md").read_text()
    titles = [t.strip() for t in re.findall(r"^#+ (.+)$", notes, re.M)]
    titles += re.findall(r"^\*\*([^*]+)\*\*", notes, re.M)
    missing = []
    for name in sorted(tracked()):
        if name.startswith("results/") or not name.endswith((".py", ".md")):
            continue
        if name == "tests/test_docs.py":  # its own comment shows the form
            continue
        for m in SECTION.finditer((ROOT / name).read_text()):
            cited = " ".join(m.group(1).split()).rstrip(".")
            if not any(t.startswith(cited) for t in titles):
                missing.append(f"{name}: {cited}")
    assert not missing, missing


def test_no_file_refers_to_issue_numbers_or_sessions():
    pattern = re.compile(r"\b[Ii]ssues? #?\d+|\b[Ss]ession \d+|\b(this|last|next) session\b")
    for name in sorted(tracked()):
        if name.endswith((".png", ".gz", ".npz", ".json", ".log", ".csv")):
            continue
        assert not pattern.search((ROOT / name).read_text(errors="ignore")), name


def test_the_readme_speed_figures_come_from_the_committed_benchmarks():
    """Every figure of the README's Speed table is in the benchmark JSON it cites."""
    speed = (ROOT / "README.md").read_text().split("## Speed")[1].split("\n## ")[0]
    speed = " ".join(speed.split())  # the prose's line breaks fall anywhere
    bench = ROOT / "benchmarks" / "results"
    for name in ("throughput.json", "throughput_bf16.json"):
        res = json.loads((bench / name).read_text())
        pre, clus = res["rows"][0], res["rows"][-1]
        assert pre["what"] == "pretrain relu" and clus["what"].startswith("clustering")
        assert f"{pre['samples_per_s']:,.0f} ({round(100 * pre['fraction_of_matmul'])} %)" in speed
        assert (
            f"{clus['samples_per_s']:,.0f} ({round(100 * clus['fraction_of_matmul'])} %)" in speed
        )
        pairs = res["torch_pairs"]
        for ratio, ours, torch in (
            ("ratio", "ours", "torch"),
            ("cluster_ratio", "ours_cluster", "torch_cluster"),
        ):
            cells = [f"{p[ratio]:.2f}x ({p[ours]:,.0f} / {p[torch]:,.0f})" for p in pairs]
            assert ", ".join(cells) in speed, (name, ratio)
        rate = f"{res['matmul_gflops'][res['precision']]:.0f}"
        assert f"{rate} {'GFLOP/s float32' if res['precision'] == 'float32' else 'bf16'}" in speed
    paper = {
        p: json.loads((bench / "paper_run" / f"{p}.json").read_text()) for p in ("float32", "bf16")
    }
    for p, res in paper.items():
        assert f"{res['projected_s']['total'] / 60:.1f} min" in speed, p
    f32 = paper["float32"]
    bound = f32["projected_s"]["total"] / f32["paper_budget"]["arithmetic_bound_s"]
    assert f"{bound:.2f}x its arithmetic bound" in speed
    b16 = paper["bf16"]
    assert (
        f"{b16['projected_s']['total'] / b16['paper_budget']['arithmetic_bound_s']:.2f}x its bound"
        in speed
    )
    scale = json.loads((bench / "scaling.json").read_text())["sizes"]
    assert [r["n"] for r in scale] == [10_000, 100_000, 1_000_000]
    lo, hi = (f"{1000 * r['iteration_s']:.0f} ms" for r in (scale[0], scale[-1]))
    assert f"({lo} an iteration at 10,000 samples, {hi} at a million)" in speed
    assert f"peak memory is {scale[-1]['peak_over_data']:.2f}x the data" in speed
    cache = json.loads((bench / "compile_cache.json").read_text())
    assert f"{cache['warm_cache_over_same_process']:.2f} times a warm one" in speed


def test_the_pure_function_snippet_runs_and_is_dssecs_loss():
    """The README's and the guide's snippet of the pure functions runs as written, and its
    loss is the library's DSSEC loss (gamma 0.1, beta 1, the two 500-unit layers)."""
    import numpy as np

    from dssec_jax import losses

    blocks = []
    for doc in ("README.md", "docs/guide.md"):
        code = re.findall(r"```python\n(.*?)```", (ROOT / doc).read_text(), re.S)
        blocks.append(next(b for b in code if "init_params(" in b))
    assert blocks[0] == blocks[1], "the README and the guide show the same snippet"
    ns: dict = {}
    exec(blocks[0], ns)
    want, _ = losses.dssec_loss(
        ns["x"], ns["x_hat"], ns["hidden"][:2], ns["z"], ns["centers"], ns["p"], gamma=0.1, beta=1.0
    )
    np.testing.assert_allclose(ns["loss"], want, rtol=1e-5)
