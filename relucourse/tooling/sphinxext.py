"""Sphinx extension: serve MathJax from the book itself instead of a CDN.

The book then renders its mathematics offline too (a laptop without network, a headless browser
in CI). MathJax 3 comes from the PyPI package ``django-static-mathjax`` (plain static files; Django
is not needed): only the combined TeX script and its web fonts are copied into ``_static/mathjax``.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

SCRIPT = "tex-mml-chtml.js"
FONTS = Path("output/chtml/fonts/woff-v2")


def mathjax_source() -> Path:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax not found: install django-static-mathjax (see requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"


def _configure(app, config) -> None:
    config.mathjax_path = f"mathjax/{SCRIPT}"  # relative paths are served from _static/


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    src, dest = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    (dest / FONTS).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / SCRIPT, dest / SCRIPT)
    shutil.copytree(src / FONTS, dest / FONTS, dirs_exist_ok=True)


def setup(app):
    app.connect("config-inited", _configure)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
