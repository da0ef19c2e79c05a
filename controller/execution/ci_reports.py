"""The test and coverage reports a CI row leaves in its checkout, summarised for its run
record: `shippable/testresults/` (JUnit XML, read with junitparser) and
`shippable/codecoverage/` (Cobertura XML: the root's `line-rate`), as Shippable read them.

The files are the job's, so they are hostile until read: every file is parsed by
defusedxml with DTDs forbidden (no entity expansion: no billion laughs, no external
entities), files larger than MAX_FILE_BYTES, past MAX_FILES or MAX_TOTAL_BYTES are not read,
and no symbolic link is followed out of the checkout. What is refused is said in `note`,
never raised: a report cannot fail a run.
"""

from __future__ import annotations

import os
import stat
import xml.etree.ElementTree as ET  # only for the ParseError type and Element
from dataclasses import dataclass, field
from pathlib import Path

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from junitparser import Error, Failure, JUnitXml, JUnitXmlError, Skipped

TEST_DIR = "shippable/testresults"
COVERAGE_DIR = "shippable/codecoverage"
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_TOTAL_BYTES = 50 * 1024 * 1024
MAX_FILES = 200


@dataclass
class Summary:
    passed: int = 0
    failed: int = 0  # failures and errors
    skipped: int = 0
    coverage: float | None = None  # percent of lines
    reports: int = 0  # files read
    notes: list[str] = field(default_factory=list)  # files refused, and why

    @property
    def note(self) -> str:
        shown = self.notes[:5] + ([f"{len(self.notes) - 5} more"] if len(self.notes) > 5 else [])
        return "; ".join(shown)


def summarise(checkout: Path, within: Path | None = None) -> Summary:
    """The reports under `checkout` (a row's build folder), never raising. `within`: the
    folder the checkout must really be in (the run's workdir): the job may have replaced
    any folder of its workdir by a link, and the reader is not the job's user."""
    summary = Summary()
    try:
        inside = checkout.resolve().is_relative_to((within or checkout).resolve())
    except OSError:
        inside = False
    if not inside:
        summary.notes.append(f"{checkout.name}: not read (a link out of the run's folder)")
        return summary
    budget = [MAX_TOTAL_BYTES, MAX_FILES]
    covered: list[tuple[float, int, int]] = []  # (line-rate, lines-covered, lines-valid)
    for rel, root in _reports(checkout, TEST_DIR, summary, budget):
        _junit(rel, root, summary)
    for rel, root in _reports(checkout, COVERAGE_DIR, summary, budget):
        rate = _cobertura(rel, root, summary)
        if rate is not None:
            covered.append(rate)
    if covered:
        valid = sum(v for _, _, v in covered)
        if all(v > 0 for _, _, v in covered) and valid:
            summary.coverage = 100.0 * sum(c for _, c, _ in covered) / valid
        else:
            summary.coverage = 100.0 * sum(r for r, _, _ in covered) / len(covered)
    return summary


def _reports(checkout: Path, folder: str, summary: Summary,
             budget: list[int]) -> list[tuple[str, ET.Element]]:
    """(path, parsed root) of every `.xml` file under `checkout/folder`, refusing what is
    too large, a link, or not XML without a DTD."""
    top = checkout / folder
    try:
        real_top = top.resolve()
        if not top.is_dir() or not real_top.is_relative_to(checkout.resolve()):
            return []
    except OSError:
        return []
    found: list[tuple[str, ET.Element]] = []
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.lower().endswith(".xml"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), checkout)
            if budget[1] <= 0:
                summary.notes.append(f"{rel}: not read (more than {MAX_FILES} reports)")
                continue
            data = _read(os.path.join(dirpath, name), rel, summary, budget)
            if data is None:
                continue
            try:
                found.append((rel, SafeET.fromstring(data, forbid_dtd=True)))
            except DefusedXmlException as err:
                summary.notes.append(f"{rel}: refused ({type(err).__name__}: a DTD or entity)")
            except ET.ParseError as err:
                summary.notes.append(f"{rel}: not XML ({err})")
    return found


def _read(path: str, rel: str, summary: Summary, budget: list[int]) -> bytes | None:
    """The bytes of a regular file, never through a link, within the size limits."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        summary.notes.append(f"{rel}: not read ({err.strerror or err})")
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            summary.notes.append(f"{rel}: not read (not a regular file)")
            return None
        limit = min(MAX_FILE_BYTES, budget[0])
        if info.st_size > limit:
            summary.notes.append(f"{rel}: not read ({info.st_size} bytes; at most {limit})")
            return None
        data = fh.read(limit + 1)
    if len(data) > limit:  # it grew while read
        summary.notes.append(f"{rel}: not read (larger than {limit} bytes)")
        return None
    budget[0] -= len(data)
    budget[1] -= 1
    return data


def _junit(rel: str, root: ET.Element, summary: Summary) -> None:
    try:
        xml = JUnitXml.fromroot(root)  # type: ignore[arg-type]  # its hint names its wrapper
    except JUnitXmlError:
        summary.notes.append(f"{rel}: not a JUnit report (its root is <{root.tag}>)")
        return
    summary.reports += 1
    for suite in xml:
        cases = list(suite)
        if not cases:  # a suite with its counts only
            failed = _int(suite.failures) + _int(suite.errors)
            skipped = _int(suite.skipped)
            summary.failed += failed
            summary.skipped += skipped
            summary.passed += max(0, _int(suite.tests) - failed - skipped)
        for case in cases:
            results = case.result
            if any(isinstance(r, Failure | Error) for r in results):
                summary.failed += 1
            elif any(isinstance(r, Skipped) for r in results):
                summary.skipped += 1
            else:
                summary.passed += 1


def _cobertura(rel: str, root: ET.Element, summary: Summary) -> tuple[float, int, int] | None:
    """(line-rate, lines-covered, lines-valid) of a Cobertura report's root."""
    if root.tag != "coverage":
        summary.notes.append(f"{rel}: not a Cobertura report (its root is <{root.tag}>)")
        return None
    try:
        rate = float(root.get("line-rate", ""))
    except ValueError:
        summary.notes.append(f"{rel}: no line-rate on <coverage>")
        return None
    if not 0.0 <= rate <= 1.0:
        summary.notes.append(f"{rel}: line-rate {rate} is not between 0 and 1")
        return None
    summary.reports += 1
    return rate, _int(root.get("lines-covered")), _int(root.get("lines-valid"))


def _int(value: object) -> int:
    try:
        return max(0, int(str(value)))
    except ValueError:
        return 0
