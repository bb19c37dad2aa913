"""The README's tables against the code they describe: configuration against `delivrd.config`, result codes
against `delivrd.domain.results`. A setting or code added without its row (or a row left behind) fails here."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

from delivrd.config import OPTIONS, flag, variable
from delivrd.domain import results
from delivrd.domain.push import OUTCOMES

README = Path(__file__).resolve().parent.parent / "README.md"


def table(heading: str) -> list[list[str]]:
    """The rows of the first Markdown table under `heading` (its header and rule left out), cells stripped of
    surrounding spaces and backquotes."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    lines = text[start:].splitlines()[2:]
    first = next(n for n, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[first + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("`") for cell in line.strip().strip("|").split("|")])
    return rows


def test_the_configuration_table_lists_every_setting_with_its_flag_variable_and_default():
    documented = {
        (flag_, variable_ or None, default or None) for flag_, variable_, default, *_ in table("## Configuration")
    }
    declared = {
        (flag(name), None if option.switch else variable(name), option.default) for name, option in OPTIONS.items()
    }
    assert documented == declared


def test_the_result_code_table_lists_every_code_with_its_http_status():
    documented = {(int(code), int(status)) for code, status, *_ in table("### Result codes")}
    assert documented == {(code, status) for code, (status, _) in results.TABLE.items()}


def test_the_tables_are_found():
    assert len(table("## Configuration")) == len(OPTIONS)
    assert len(table("### Result codes")) == len(results.TABLE)


def test_the_readme_names_every_inbox_outcome():
    text = README.read_text(encoding="utf-8")
    start = text.index("Each inbox entry has an `outcome`")
    paragraph = text[start : text.index("\n\n", start)]
    assert set(re.findall(r"`(\w+)`", paragraph)) - {"outcome"} == set(OUTCOMES)


DOCS = [README, *sorted((README.parent / "docs").glob("*.md"))]
SOURCE = README.parent / "src" / "delivrd"


def test_every_file_the_docs_name_exists():
    """`src/delivrd/…`, and `a/b.py` taken from the repository root or from src/delivrd/, as the README's map
    of the code names them: a module moved without its docs fails here."""
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        named = [
            m[1] if m[2] != "*" else m[1].rpartition("/")[0]  # a pattern (NNNN_*.sql): its folder
            for m in re.finditer(r"(src/delivrd/[\w/.-]*\w)(\*?)", text)
        ]
        named += [m for m in re.findall(r"`([\w.-]+(?:/[\w.-]+)+\.(?:py|json|sql))`", text) if not m.startswith("src/")]
        missing = [
            p
            for p in named
            if not (README.parent / p).exists() and not (SOURCE / p).exists() and not p.startswith("bench/results/")
        ]  # what `make bench` writes
        assert not missing, f"{doc.name} names files that do not exist: {missing}"


def test_every_module_the_docs_name_imports():
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for dotted in set(re.findall(r"\b(delivrd(?:\.\w+)+)", text)) - {"delivrd.db"}:
            module, attributes = dotted, []
            while not _is_module(module):
                module, _, attribute = module.rpartition(".")
                attributes.insert(0, attribute)
            value = importlib.import_module(module)
            for attribute in attributes:
                value = getattr(value, attribute)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a name inside a module, not a submodule
        return False
