"""What runs when a push breaks one source of a subscription (core.subscription.fallback):
that source at its last good commit and the others as pushed, then the last good of all."""

from __future__ import annotations

from controller.core import model
from controller.core.subscription import fallback


def broken(*paths: str) -> model.Workflow:
    problems = tuple(model.Problem(model.Location(p, 1, 1), "bad") for p in paths)
    return model.Workflow(problems=problems, fatal=True)


SNAP = model.Snapshot(good_commit="g0", good_sources={"shipit": "s0", "infra": "i0"})


def test_a_broken_source_falls_back_alone():
    wf = broken("shipit:shippable.yml")
    assert fallback(wf, "m1", {"shipit": "s1", "infra": "i1"}, SNAP) == [
        ("m1", {"shipit": "s0", "infra": "i1"}), ("g0", {"shipit": "s0", "infra": "i0"})]


def test_a_broken_main_falls_back_with_it():
    wf = broken("shippable.yml", "infra:shippable.yml")
    assert fallback(wf, "m1", {"shipit": "s1", "infra": "i1"}, SNAP)[0] == (
        "g0", {"shipit": "s1", "infra": "i0"})


def test_a_new_source_broken_at_its_first_push_adds_nothing():
    wf = broken("new:shippable.yml")
    assert fallback(wf, "g0", {"shipit": "s0", "infra": "i0", "new": "n1"}, SNAP)[0] == (
        "g0", {"shipit": "s0", "infra": "i0", "new": ""})


def test_one_repository_keeps_its_last_good_as_before():
    snap = model.Snapshot(good_commit="g0")
    assert fallback(broken("shippable.yml"), "m1", {}, snap) == [("g0", {})]
    assert fallback(broken("shippable.yml"), "m1", {}, model.Snapshot()) == []
