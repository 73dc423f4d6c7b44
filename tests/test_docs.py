"""The documentation is tested: every ```python block of README.md and docs/**/*.md runs here.

- The blocks of one page run in order in one namespace (a page is one test), in a temporary
  working directory, with matplotlib's Agg backend and ``mg.manual_seed(0)`` at the start.
- A block that cannot run in a test (it needs a GPU, MPI, minutes of training or the network)
  is marked by the HTML comment ``<!-- skip-test: the reason -->`` on the line before its
  fence. The reason is required; the marker is invisible on the rendered page.
- Pages another author is still writing are listed under ``pending_pages`` in mkdocs.yml.
  While one is missing, links to it are tolerated; while it exists, its own failures (a block
  that raises, a broken link) are reported as xfail with the reason, not as failures. The
  MkDocs hook (docs/hooks/repo_links.py) does the same for the strict build. Once such a page
  passes, remove it from the list.
- Relative links (to other pages, figures, or the code a page explains) must name files that
  exist, and every test a page cites as ``tests/....py::test_name`` must exist, so a renamed
  test cannot leave a derivation unchecked without this file failing.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md"))]

FENCE_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)")
SKIP = re.compile(r"^\s*<!--\s*skip-test:(?P<reason>.*?)-->\s*$")
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s#]+)(?:#[^)\s]*)?\)")
CITED_TEST = re.compile(r"(?P<file>tests/[\w/]+\.py)::(?P<name>[\w]+)(?:::(?P<method>\w+))?")


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    code: str
    skip: str | None  # the reason, when marked skip-test


def parse(path: Path) -> tuple[list[Block], list[int]]:
    """The python blocks of a page, and the lines of skip markers that precede no python
    block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, stray = [], []
    pending: tuple[int, str] | None = None  # a skip marker waiting for its block
    i = 0
    while i < len(lines):
        line = lines[i]
        m = FENCE_OPEN.match(line)
        skip = SKIP.match(line)
        if skip:
            if pending:
                stray.append(pending[0])
            pending = (i + 1, skip["reason"].strip())
            i += 1
            continue
        if m:
            fence, indent, opened = m["fence"], m["indent"], i + 1
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
                i += 1
            if m["lang"] == "python":
                reason = pending[1] if pending else None
                blocks.append(Block(opened, textwrap.dedent("\n".join(body)), reason))
            elif pending:
                stray.append(pending[0])
            pending = None
            i += 1
            continue
        if line.strip() and pending:
            stray.append(pending[0])
            pending = None
        i += 1
    if pending:
        stray.append(pending[0])
    return blocks, stray


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


PAGES_WITH_CODE = [p for p in PAGES if parse(p)[0]]


def pending_pages() -> set[str]:
    """Repository paths of the pages listed under extra.pending_pages in mkdocs.yml."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    m = re.search(r"^\s*pending_pages:\s*\n((?:\s+- .*\n)+)", text, re.M)
    if not m:
        return set()
    return {"docs/" + line.strip()[2:].strip() for line in m[1].splitlines()}


PENDING = pending_pages()


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=rel)
def test_the_python_blocks_of_a_page_run(page, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import minigrad as mg

    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    mg.manual_seed(0)
    namespace = {"__name__": f"docs:{rel(page)}"}
    blocks, _ = parse(page)
    try:
        for block in blocks:
            if block.skip is not None:
                continue
            code = compile(block.code, f"{rel(page)}:{block.line}", "exec")
            try:
                exec(code, namespace)
            except Exception as e:
                if rel(page) in PENDING:
                    pytest.xfail(f"{rel(page)} is pending (mkdocs.yml): the python block at "
                                 f"line {block.line} raised {type(e).__name__}: {e}")
                raise AssertionError(
                    f"the python block at {rel(page)}:{block.line} raised "
                    f"{type(e).__name__}: {e}") from e
    finally:
        plt.close("all")


def test_skip_markers_have_a_reason_and_a_block():
    problems = []
    for page in PAGES:
        blocks, stray = parse(page)
        problems += [f"{rel(page)}:{n}: skip-test marker not followed by a python block"
                     for n in stray]
        problems += [f"{rel(page)}:{b.line}: skip-test marker without a reason"
                     for b in blocks if b.skip == ""]
    assert not problems, "\n".join(problems)


def _prose(page: Path):
    """(line number, text) of the lines outside code fences."""
    in_fence = None
    for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        m = FENCE_OPEN.match(line)
        if in_fence is None and m:
            in_fence = m["fence"]
            continue
        if in_fence is not None:
            if line.strip().startswith(in_fence):
                in_fence = None
            continue
        yield n, line


def test_relative_links_name_existing_files():
    broken, pending = [], []
    for page in PAGES:
        for n, line in _prose(page):
            for m in LINK.finditer(line):
                target = m["target"]
                if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("/"):
                    continue
                path = (page.parent / target).resolve()
                if not path.exists():
                    to = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else ""
                    where = pending if rel(page) in PENDING or to in PENDING else broken
                    where.append(f"{rel(page)}:{n}: {target}")
    assert not broken, "links to missing files:\n" + "\n".join(broken)
    if pending:
        pytest.xfail("links to or from pending pages (mkdocs.yml): " + "; ".join(pending))


def test_cited_tests_exist():
    missing = []
    for page in PAGES:
        for n, line in _prose(page):
            for m in CITED_TEST.finditer(line):
                path = ROOT / m["file"]
                names = [m["name"]] + ([m["method"]] if m["method"] else [])
                text = path.read_text(encoding="utf-8") if path.is_file() else ""
                if not text or not all(re.search(rf"^\s*(def|class) {name}\b", text, re.M)
                                       for name in names):
                    missing.append(f"{rel(page)}:{n}: {m[0]}")
    assert not missing, "pages cite tests that do not exist:\n" + "\n".join(missing)


def test_the_readme_keeps_the_ci_test_command_and_stays_short():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'pip install -e ".[dev]" && python -m pytest -q' in readme
    assert len(readme.splitlines()) <= 260



# -- derivations of the tour that no other test states as such --------------------------------

@pytest.mark.parametrize("shape,kernel,stride,dilation,padding", [
    ((1, 1, 3, 3), (2, 2), (1, 1), (1, 1), (0, 0)),
    ((2, 3, 7, 6), (3, 3), (2, 2), (1, 1), (1, 1)),
    ((3, 2, 8, 9), (3, 2), (2, 3), (2, 1), (2, 0)),
])
def test_im2col_and_col2im_are_adjoint(shape, kernel, stride, dilation, padding):
    """docs/tour/im2col.md: <im2col(x), Y> = <x, col2im(Y)> for every x and Y."""
    import numpy as np

    from minigrad.backend import device
    from minigrad.ops.im2col import _Geometry

    n, c, h, w = shape
    out_hw = tuple((size + 2 * p - d * (k - 1) - 1) // s + 1 for size, p, d, k, s in
                   zip((h, w), padding, dilation, kernel, stride, strict=True))
    geometry = _Geometry(device("cpu"), shape, kernel, stride, dilation, padding, (0, 0),
                         out_hw)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    y = rng.standard_normal((c * kernel[0] * kernel[1], out_hw[0] * out_hw[1] * n))
    cols = geometry.to_cols(x)
    assert cols.shape == y.shape
    np.testing.assert_allclose(np.sum(cols * y), np.sum(x * geometry.from_cols(y)),
                               rtol=1e-12)
