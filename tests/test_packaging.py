"""The wheel holds the library and its command-line drivers, and no generic top-level
package; the console scripts and the checkout's ``python -m experiments.<name>`` reach
the same drivers."""

import shutil
import subprocess
import sys
import zipfile

from conftest import ROOT

SCRIPTS = {"dssec-run", "dssec-sweep", "dssec-report", "dssec-campaign"}
# A harmless call of each driver, its exit code and a line it prints.
PROBE = {
    "dssec-run": ["--method=nope"],
    "dssec-sweep": ["--methods=nope"],
    "dssec-report": [],
    "dssec-campaign": ["--plan=smoke", "--methods=kmeans", "--dry_run"],
}
CODE = {"dssec-run": 2, "dssec-sweep": 2, "dssec-report": 2, "dssec-campaign": 0}
EXPECT = {
    "dssec-run": "unknown method 'nope'",
    "dssec-sweep": "unknown method 'nope'",
    "dssec-report": "usage: dssec-report DIR",
    "dssec-campaign": "todo: digits kmeans seed 0",
}


def test_the_wheel_installs_only_dssec_jax_and_its_console_scripts(tmp_path):
    # built from a copy of the tracked files: no build/ or egg-info of this tree gets in
    src, dist = tmp_path / "src", tmp_path / "dist"
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(src),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = dist.glob("dssec_jax-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"dssec_jax"}
    assert "dssec_jax/cli/campaign.py" in names and "dssec_jax/py.typed" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    targets = dict(
        (k.strip(), v.strip())
        for k, _, v in (line.partition("=") for line in text.splitlines())
        if k.strip() in SCRIPTS
    )
    assert set(targets) == SCRIPTS
    for script, target in targets.items():  # each as an installed console script calls it
        module, func = target.split(":")
        code = f"import sys; sys.argv = [{script!r}, *sys.argv[1:]]; from {module} import {func}; {func}()"
        r = subprocess.run(
            [sys.executable, "-c", code, *PROBE[script]], capture_output=True, text=True
        )
        assert (r.returncode, EXPECT[script] in r.stdout + r.stderr) == (CODE[script], True), (
            r.stderr
        )


def test_the_checkout_names_run_the_same_drivers():
    code = (
        "import importlib; ok = all(importlib.import_module(f'experiments.{n}').entry is "
        "importlib.import_module(f'dssec_jax.cli.{n}').entry for n in {!r}); print(ok)"
    )
    for name in ("run", "sweep", "report", "campaign"):  # one process each: absl flags
        r = subprocess.run(
            [sys.executable, "-c", code.replace("{!r}", repr((name,)))],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert r.stdout.strip() == "True", r.stderr[-2000:]
