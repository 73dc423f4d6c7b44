"""MkDocs hook: links from the docs into the repository's code work on the site too.

The pages link to the code they explain with plain relative paths, such as
``[autograd.py](../../minigrad/autograd.py)`` from ``docs/tour/backward.md``, so that the links
work when the Markdown is read on GitHub or in an editor. Such a path leaves ``docs/``, where
MkDocs cannot follow it. This hook adds each file so linked to the site, under ``code/``
(``code/minigrad/autograd.py``, served as text), and rewrites the link to point there.

A link to a file that does not exist is a warning, so ``mkdocs build --strict`` fails on it,
as it does on a broken link between pages.

One more thing, for the API reference. The docstrings of the code are plain text, not
Markdown written for MkDocs: an index such as ``out[i][index[i][j]]`` reads to Markdown as a
reference link ``[i][j]``, which mkdocs-autorefs reports as a missing cross-reference target.
Such reports *from docstrings* (their message names the source file) are lowered to INFO, so
that the wording of a docstring cannot fail the strict build; the text is rendered as written.
Unresolved references in the pages themselves stay warnings.

Pages being written (``extra.pending_pages`` in mkdocs.yml, e.g. a page another author is
still drafting): while such a page is missing, its nav entry and the links to it are dropped
(plain text remains); while it exists, its own links to missing files render as plain text.
Each is reported at INFO. Once the page is in place and its links are right, this does
nothing; the entry is then removed from ``pending_pages``.
"""

from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.repo_links")

# [text](target) and ![alt](target); the target ends at whitespace or ")"; an #anchor is kept.
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s#]+)(#[^)\s]*)?(\))")
FENCE = re.compile(r"^\s*(```|~~~)")

_root: Path | None = None
_docs: Path | None = None
_copies: set[str] = set()
_pending: set[str] = set()  # docs-relative paths of pages being written


class _DocstringRefsAreText(logging.Filter):
    """Lower autorefs' "Could not find cross-reference target" from a docstring to INFO."""

    def filter(self, record):
        message = record.getMessage()
        if (record.levelno == logging.WARNING and "Could not find cross-reference target"
                in message and ".py:" in message):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def on_config(config, **kwargs):
    global _root, _docs
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("mkdocs.plugins.mkdocs_autorefs"):
            logger = logging.getLogger(name)
            if not any(isinstance(f, _DocstringRefsAreText) for f in logger.filters):
                logger.addFilter(_DocstringRefsAreText())
    _root = Path(config.config_file_path).resolve().parent
    _docs = Path(config.docs_dir).resolve()
    _copies.clear()
    _pending.clear()
    _pending.update(config.extra.get("pending_pages", []) or [])
    missing = {p for p in _pending if not (_docs / p).is_file()}
    if missing:
        config.nav = _without(config.nav, missing)
    return config


def _without(nav, missing):
    """The nav with the entries of missing pages removed."""
    if isinstance(nav, list):
        kept = [_without(item, missing) for item in nav]
        return [item for item in kept if item is not None]
    if isinstance(nav, dict):
        (title, value), = nav.items()
        value = _without(value, missing)
        return None if value is None else {title: value}
    if isinstance(nav, str) and nav in missing:
        log.info("nav: %s is pending and not written yet; left out", nav)
        return None
    return nav


def _pending_link(target: str, page_dir: Path, page_src: str) -> bool:
    """True for a link to leave as plain text: to a pending page that is missing, or from a
    pending page to a missing file."""
    resolved = (page_dir / target).resolve()
    if resolved.exists() or not resolved.is_relative_to(_docs):
        return False
    to_pending = resolved.relative_to(_docs).as_posix() in _pending
    if to_pending or page_src in _pending:
        log.info("%s: link to %s left as text (pending page)", page_src, target)
        return True
    return False


def _rewrite(target: str, page_dir: Path, page_src: str) -> str | None:
    """The site-relative URL for a link that leaves docs/, or None to leave it alone."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("/"):
        return None  # a URL, mailto:, or an absolute path
    resolved = (page_dir / target).resolve()
    if resolved.is_relative_to(_docs):
        return None  # MkDocs validates links between its own files
    if not resolved.is_relative_to(_root):
        log.warning("%s links to %s, outside the repository", page_src, target)
        return None
    rel = resolved.relative_to(_root).as_posix()
    if not resolved.is_file():
        log.warning("%s links to %s, which is not a file in the repository", page_src, target)
        return None
    page_url_dir = posixpath.dirname(page_src)  # use_directory_urls: false
    return posixpath.relpath(f"code/{rel}", page_url_dir or ".")


def _links_outside_fences(markdown: str):
    in_fence = False
    for line in markdown.splitlines(keepends=True):
        if FENCE.match(line):
            in_fence = not in_fence
            yield line, False
        else:
            yield line, not in_fence


def on_files(files, config, **kwargs):
    """Add every repository file that a page links to, as code/<path>."""
    for page in [f for f in files if f.src_uri.endswith(".md")]:
        page_dir = (_docs / page.src_uri).parent
        for line, prose in _links_outside_fences(Path(page.abs_src_path).read_text("utf-8")):
            if not prose:
                continue
            for m in LINK.finditer(line):
                target = m.group(2)
                if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("/"):
                    continue
                resolved = (page_dir / target).resolve()
                if (resolved.is_relative_to(_root) and not resolved.is_relative_to(_docs)
                        and resolved.is_file()):
                    _copies.add(resolved.relative_to(_root).as_posix())
    for rel in sorted(_copies):
        files.append(File.generated(config, f"code/{rel}", abs_src_path=str(_root / rel)))
    return files


def on_page_markdown(markdown, page, config, files, **kwargs):
    page_dir = (_docs / page.file.src_uri).parent
    out = []
    for line, prose in _links_outside_fences(markdown):
        if prose:
            def sub(m):
                target = m.group(2)
                if (not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target)
                        and _pending_link(target, page_dir, page.file.src_uri)):
                    return m.group(0)[m.group(0).index("[") + 1:m.group(0).index("](")]
                url = _rewrite(target, page_dir, page.file.src_uri)
                if url is None:
                    return m.group(0)
                return f"{m.group(1)}{url}{m.group(3) or ''}{m.group(4)}"
            line = LINK.sub(sub, line)
        out.append(line)
    return "".join(out)
