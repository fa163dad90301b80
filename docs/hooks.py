"""MkDocs hook: the committed figures under results/ are published with the site, at the
same paths, so the results page shows them where the repository keeps them."""

import pathlib

from mkdocs.structure.files import File

ROOT = pathlib.Path(__file__).resolve().parent.parent


def on_files(files, config):
    for png in sorted((ROOT / "results").rglob("*.png")):
        rel = png.relative_to(ROOT).as_posix()
        files.append(File(rel, str(ROOT), config["site_dir"], config["use_directory_urls"]))
    return files


def on_page_markdown(markdown, page, config, files):
    """Links from docs/ to the repository's results/ (right on a repository browser) point
    at the copies published with the site."""
    return markdown.replace("](../results/", "](results/")
