"""docs/openapi.yaml lists exactly what the server answers: every route and run status."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from ruamel.yaml import YAML

from controller.core import model
from controller.server import api

SPEC = Path(__file__).parents[2] / "docs" / "openapi.yaml"
OBSERVED = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}  # server/observe.py


def spec() -> dict:
    return YAML(typ="safe", pure=True).load(SPEC.read_text(encoding="utf-8"))


def template(pattern: re.Pattern[str]) -> str:
    """`^/api/jobs/(?P<job>[^/]+)/runs/(?P<run>[0-9]+)/log$` -> `/api/jobs/{}/runs/{}/log`."""
    text = re.sub(r"\(\?P<\w+>[^)]*\)", "{}", pattern.pattern.strip("^$"))
    return text.replace("/?", "").replace("\\.", ".")


def test_the_description_lists_exactly_the_routes_the_server_has():
    served = {(m, template(p)) for m, p, _ in api._ROUTES} | OBSERVED
    described = {(m.upper(), re.sub(r"\{\w+\}", "{}", path))
                 for path, ops in spec()["paths"].items() for m in ops}
    assert described == served


def test_the_run_statuses_are_the_models():
    status = spec()["components"]["schemas"]["Run"]["properties"]["status"]["enum"]
    assert status == list(typing.get_args(model.RunStatus))


def test_the_served_description_is_the_documented_one():
    assert api.openapi_text() == SPEC.read_bytes()
