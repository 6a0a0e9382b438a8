"""The user docs hold together: links resolve, code pointers name real sections, examples run.

Checked without network or TensorFlow:
- every relative link in README.md and docs/*.md points to an existing file, and a
  `#anchor` to a heading of the target page;
- every pointer of the form `docs/<page>.md, "<Section>"` in the code names an
  existing page and a heading on it;
- nothing in the code cites a design spec by section number or refers to a spec
  folder outside the repository;
- the Python examples of docs/evaluation.md that assert something run and pass.
"""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]
CODE_FOLDERS = ("hashzoo", "tools", "bench", "tests", "zoo_configs")
# Built from parts so this file does not match its own checks.
SECTION_CITATION = "spec " + "§"
SPEC_FOLDER = "shared/" + "specs"

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
POINTER = re.compile(r'docs/([\w-]+)\.md, "([^"]+)"((?: and "[^"]+")*)')


def _slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _headings(page):
    """The heading texts of a Markdown page (outside fenced code blocks)."""
    headings, fenced = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            headings.append(line.lstrip("#").strip())
    return headings


def _plain(heading):
    return " ".join(heading.replace("`", "").split())


def _code_files():
    for folder in CODE_FOLDERS:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _links(page):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return LINK.findall(text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    broken = []
    for target in _links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            broken.append(f"{target} (no file {resolved})")
            continue
        if anchor and resolved.suffix == ".md":
            anchors = {_slug(h) for h in _headings(resolved)}
            if anchor not in anchors:
                broken.append(f"{target} (no heading with anchor #{anchor} in {resolved.name})")
    assert not broken, f"{page.name} has broken links: " + "; ".join(broken)


def test_docs_index_links_every_page():
    linked = {target.partition("#")[0] for target in _links(DOCS / "index.md")}
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.name != "index.md" and p.name not in linked]
    assert not missing, f"docs/index.md does not link {missing}"


def test_code_pointers_name_existing_sections():
    bad = []
    for path in _code_files():
        text = " ".join(path.read_text(encoding="utf-8").split())
        for page_name, first, more in POINTER.findall(text):
            page = DOCS / f"{page_name}.md"
            if not page.is_file():
                bad.append(f"{path.relative_to(ROOT)}: docs/{page_name}.md does not exist")
                continue
            headings = {_plain(h) for h in _headings(page)}
            for section in [first] + re.findall(r'"([^"]+)"', more):
                if _plain(section) not in headings:
                    bad.append(f'{path.relative_to(ROOT)}: docs/{page_name}.md has no section "{section}"')
    assert not bad, "code points at missing docs:\n" + "\n".join(bad)


def test_code_points_to_docs_not_to_specs():
    offenders = []
    this_file = pathlib.Path(__file__).resolve()
    for path in _code_files():
        if path.resolve() == this_file:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SECTION_CITATION in line or SPEC_FOLDER in line:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    for page in PAGES:
        if SPEC_FOLDER in page.read_text(encoding="utf-8"):
            offenders.append(f"{page.relative_to(ROOT)} mentions {SPEC_FOLDER}")
    assert not offenders, (
        "point to a page under docs/ instead of a spec outside the repository:\n" + "\n".join(offenders)
    )


def test_evaluation_examples_run():
    text = (DOCS / "evaluation.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "assert" in b]
    assert blocks, "docs/evaluation.md lost its checked example"
    for block in blocks:
        exec(compile(block, str(DOCS / "evaluation.md"), "exec"), {})
