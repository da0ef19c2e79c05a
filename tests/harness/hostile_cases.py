# ruff: noqa: E501 - the table holds the exact problem lines users see, one per line
"""Hostile workflow files: each case is what a user pushes and the exact problem they see.

A case is (id, files, expected): `files` maps path -> text (or bytes) pushed *instead of*
the good workflow's shippable.yml; `expected` is the problem line `gitline status` shows
(`path:line:col: message`, matched as a prefix of one problem), and `fatal` says whether
the whole push is refused (the last good workflow keeps running) or only the bad objects
are marked inconsistent (the rest of the workflow runs, the good job still triggers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.core.model import NAME_RULE
from tests.harness.lines import PAINT_LINE

GOOD = PAINT_LINE.format(color="blue")

JOB = """\
  - name: {name}
    type: runSh
    steps:
      - IN: cfg
      - TASK:
          script:
            - echo hi
"""

RES = """\
  - name: {name}
    type: params
    versionTemplate:
      params: {{A: "1"}}
"""


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str | bytes]
    expected: str  # the start of one problem line, "path:line:col: message"
    fatal: bool = True  # True: the push is refused whole; False: only some objects
    severity: str = "error"
    extra: dict[str, str] = field(default_factory=dict)


def with_job(name: str) -> str:
    return GOOD + JOB.format(name=name)


def with_resource(name: str) -> str:
    head, jobs = GOOD.split("jobs:\n")
    return head + RES.format(name=name) + "jobs:\n" + jobs


def steps(body: str, name: str = "odd") -> str:
    return GOOD + f"  - name: {name}\n    type: runSh\n    steps:\n" + body


def nested_block(depth: int) -> str:
    lines = ["resources:", "  - name: deep", "    type: params", "    versionTemplate:"]
    lines += ["  " * (i + 3) + f"k{i}:" for i in range(depth)]
    lines[-1] += " 1"
    return GOOD.replace("resources:\n", "\n".join(lines[:0]) + "resources:\n") + "\n".join(
        ["extra:"] + ["  " * (i + 1) + f"k{i}:" for i in range(depth)]) + " 1\n"


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))

Y = "shippable.yml"

CASES: list[Case] = [
    # --- YAML that must never be expanded, executed or trusted
    Case("alias bomb", {Y: GOOD + BOMB}, f"{Y}:"),
    Case("alias bomb in a script", {Y: BOMB.replace("a: &a", "x: &a") + GOOD}, f"{Y}:"),
    Case("python object tag", {Y: GOOD + "evil: !!python/object/apply:os.system [id]\n"},
         f"{Y}:14:"),
    Case("python name tag", {Y: GOOD + "evil: !!python/name:os.system\n"}, f"{Y}:14:"),
    Case("python object new", {Y: GOOD + "evil: !!python/object/new:subprocess.Popen [ls]\n"},
         f"{Y}:14:"),
    Case("unknown local tag", {Y: GOOD + "evil: !shell rm -rf /\n"}, f"{Y}:14:"),
    Case("file over 5 MB", {Y: GOOD + "# " + "x" * (5 * 1024 * 1024) + "\n"}, f"{Y}:"),
    Case("flow nesting 10,000 deep", {Y: GOOD + "x: " + "[" * 10000 + "]" * 10000 + "\n"},
         f"{Y}:"),
    Case("flow mapping nesting", {Y: GOOD + "x: " + "{a: " * 200 + "1" + "}" * 200 + "\n"},
         f"{Y}:"),
    Case("block nesting 100 deep", {Y: GOOD + "x:\n" + "".join(
        " " * (i + 1) + f"k{i}:\n" for i in range(100)) + " " * 101 + "v\n"}, f"{Y}:"),
    # libyaml's composer recursed into this until SIGSEGV (controller and `validate` died)
    Case("block sequence nesting 50,000 deep", {Y: GOOD + "x:\n" + "- " * 50000 + "x\n"},
         f"{Y}:15:"),
    Case("latin-1 bytes", {Y: GOOD.encode() + b"# caf\xe9\n"}, f"{Y}:"),
    Case("UTF-16 text", {Y: GOOD.encode("utf-16")}, f"{Y}:"),
    Case("NUL byte", {Y: GOOD + "x: a\0b\n"}, f"{Y}:"),
    Case("binary garbage", {Y: bytes(range(256)) * 4}, f"{Y}:"),
    Case("unclosed quote", {Y: GOOD + 'x: "never closed\n'}, f"{Y}:"),
    Case("tab indentation", {Y: GOOD + "x:\n\t- a\n"}, f"{Y}:"),
    Case("undefined alias", {Y: GOOD + "x: *nowhere\n"}, f"{Y}:14:", fatal=False),
    Case("duplicate key", {Y: GOOD + "jobs: []\n"}, f"{Y}:14:"),
    Case("top level is a list", {Y: "- a\n- b\n"}, f"{Y}:1:1:"),
    Case("top level is a scalar", {Y: "just text\n"}, f"{Y}:1:1:"),
    Case("two documents", {Y: GOOD + "---\n" + GOOD}, f"{Y}:"),
    Case("merge of a scalar", {Y: GOOD + "x:\n  <<: 5\n"}, f"{Y}:"),
    # --- names: never escape a folder, never reach a shell unquoted
    Case("job name with ../", {Y: with_job("../../etc/passwd")}, f"{Y}:14:", fatal=False),
    Case("job name with /", {Y: with_job("a/b")}, f"{Y}:14:", fatal=False),
    Case("job name with newline", {Y: with_job('"a\\nb"')}, f"{Y}:14:", fatal=False),
    Case("job name with $()", {Y: with_job('"$(touch /tmp/pwned)"')}, f"{Y}:14:", fatal=False),
    Case("job name with ;", {Y: with_job('"x; rm -rf ~"')}, f"{Y}:14:", fatal=False),
    Case("job name with backticks", {Y: with_job('"`id`"')}, f"{Y}:14:", fatal=False),
    Case("job name ending in a space", {Y: with_job('"a b "')}, f"{Y}:14:", fatal=False),
    Case("job name with a quote", {Y: with_job("\"a'b\"")}, f"{Y}:14:", fatal=False),
    Case("job name .git", {Y: with_job(".git")}, f"{Y}:14:", fatal=False),
    Case("job name ..", {Y: with_job('".."')}, f"{Y}:14:", fatal=False),
    Case("empty job name", {Y: with_job('""')}, f"{Y}:14:", fatal=False),
    Case("job name 300 chars", {Y: with_job("a" * 300)}, f"{Y}:14:", fatal=False),
    Case("job name is a list", {Y: with_job("[a, b]")}, f"{Y}:14:", fatal=False),
    Case("job name is null", {Y: with_job("null")}, f"{Y}:14:", fatal=False),
    Case("resource name with ../", {Y: with_resource("../x")}, f"{Y}:6:", fatal=False),
    Case("resource name with /", {Y: with_resource("a/b")}, f"{Y}:6:", fatal=False),
    Case("resource name with $()", {Y: with_resource('"$(id)"')}, f"{Y}:6:", fatal=False),
    Case("resource name with newline", {Y: with_resource('"a\\nb"')}, f"{Y}:6:", fatal=False),
    Case("resource name with NUL escape", {Y: with_resource('"a\\0b"')}, f"{Y}:6:",
         fatal=False),
    # --- graph
    Case("duplicate job", {Y: with_job("paint")}, f"{Y}:14:", fatal=False),
    Case("duplicate resource", {Y: with_resource("cfg")}, f"{Y}:6:", fatal=False),
    Case("job and resource share a name", {Y: with_job("cfg")}, f"{Y}:14:", fatal=False),
    Case("cycle of two", {Y: steps("      - IN: odd2\n") + "  - name: odd2\n    type: runSh\n"
                              "    steps:\n      - IN: odd\n"}, f"{Y}:", fatal=False),
    Case("cycle of three", {Y: steps("      - IN: c3\n") + "  - name: c2\n    type: runSh\n"
                                "    steps:\n      - IN: odd\n  - name: c3\n    type: runSh\n"
                                "    steps:\n      - IN: c2\n"}, f"{Y}:", fatal=False),
    Case("self input", {Y: steps("      - IN: odd\n")}, f"{Y}:", fatal=False),
    Case("unknown input", {Y: steps("      - IN: nowhere\n")}, f"{Y}:17:", fatal=False),
    Case("unknown output", {Y: steps("      - OUT: nowhere\n")}, f"{Y}:17:", fatal=False),
    Case("unknown resource type", {Y: with_resource("odd").replace(
        "type: params\n    versionTemplate:\n      params: {A:", "type: warpDrive\n"
        "    versionTemplate:\n      params: {A:", 1)}, f"{Y}:7:", fatal=False,
        severity="warning"),
    Case("unknown job type", {Y: with_job("odd").replace("type: runSh\n    steps:\n      - IN: cfg"
                                                         "\n      - TASK:\n          script:\n"
                                                         "            - echo hi",
                                                         "type: teleport\n    steps: []")},
         f"{Y}:15:", fatal=False),
    Case("job without a type", {Y: GOOD + "  - name: odd\n    steps:\n      - IN: cfg\n"},
         f"{Y}:14:", fatal=False),
    Case("job without a name", {Y: GOOD + "  - type: runSh\n    steps:\n      - IN: cfg\n"},
         f"{Y}:14:", fatal=False),
    Case("resource without a type", {Y: with_resource("odd").replace(
        "    type: params\n    versionTemplate:\n      params: {A:", "    versionTemplate:\n"
        "      params: {A:", 1)}, f"{Y}:6:", fatal=False),
    # --- wrong value types
    Case("jobs is a mapping", {Y: GOOD.split("jobs:")[0] + "jobs:\n  paint: {type: runSh}\n"},
         f"{Y}:7:"),
    Case("resources is a string", {Y: "resources: lots\n" + "jobs:" + GOOD.split("jobs:")[1]},
         f"{Y}:1:"),
    Case("steps is a string", {Y: GOOD + "  - name: odd\n    type: runSh\n    steps: run it\n"},
         f"{Y}:16:", fatal=False),
    Case("script is a mapping", {Y: steps("      - TASK:\n          script: {a: b}\n")},
         f"{Y}:18:", fatal=False),
    Case("a step is a string", {Y: steps("      - just text\n")}, f"{Y}:17:", fatal=False),
    Case("versionTemplate is a string", {Y: with_resource("odd").replace(
        "versionTemplate:\n      params: {A: \"1\"}", "versionTemplate: lots", 1)},
        f"{Y}:8:", fatal=False),
    Case("switch is a word", {Y: steps("      - IN: cfg\n        switch: maybe\n")}, f"{Y}:18:",
         fatal=False),
    Case("timeout is text", {Y: steps("      - IN: cfg\n").replace(
        "  - name: odd\n    type: runSh\n", "  - name: odd\n    type: runSh\n    runtime:\n"
        "      timeoutMinutes: soon\n", 1)}, f"{Y}:17:", fatal=False),
    Case("priority is a list", {Y: steps("      - IN: cfg\n").replace(
        "    steps:", "    priority: [1]\n    steps:", 1)}, f"{Y}:16:", fatal=False),
    Case("versionNumber is text", {Y: steps("      - IN: cfg\n        versionNumber: latest\n")},
         f"{Y}:18:", fatal=False),
    Case("IN is a list", {Y: steps("      - IN: [cfg]\n")}, f"{Y}:17:", fatal=False),
]


# id -> (the exact problem line a user sees, whether the push is refused whole)
EXPECTED: dict[str, tuple[str, bool]] = {
    'alias bomb': (
        'shippable.yml:14:26: error: more than 100000 YAML nodes after expanding aliases',
        True),
    'alias bomb in a script': (
        'shippable.yml:1:20: error: more than 100000 YAML nodes after expanding aliases',
        True),
    'python object tag': (
        "shippable.yml:14:7: error: YAML tag '!!python/object/apply:os.system' is not supported; value ignored",
        False),
    'python name tag': (
        "shippable.yml:14:7: error: YAML tag '!!python/name:os.system' is not supported; value ignored",
        False),
    'python object new': (
        "shippable.yml:14:7: error: YAML tag '!!python/object/new:subprocess.Popen' is not supported; value ignored",
        False),
    'unknown local tag': (
        "shippable.yml:14:7: error: YAML tag '!shell' is not supported; value ignored",
        False),
    'file over 5 MB': ('shippable.yml:0:0: error: file is 5243108 bytes; the limit is 5242880',
                       True),
    'flow nesting 10,000 deep': (
        'shippable.yml:14:68: error: YAML nested deeper than 64 levels',
        True),
    'flow mapping nesting': ('shippable.yml:14:260: error: YAML nested deeper than 64 levels', True),
    'block nesting 100 deep': (
        'shippable.yml:78:65: error: YAML nested deeper than 64 levels',
        True),
    'block sequence nesting 50,000 deep': (
        'shippable.yml:15:127: error: YAML nested deeper than 64 levels',
        True),
    'latin-1 bytes': (
        'shippable.yml:0:0: error: shippable.yml is not UTF-8 text (byte 230): not loaded',
        True),
    'UTF-16 text': (
        'shippable.yml:0:0: error: shippable.yml is not UTF-8 text (byte 0): not loaded',
        True),
    'NUL byte': (
        'shippable.yml:0:0: error: YAML does not parse: unacceptable character #x0000: special characters are not allowed\n  in "<unicode string>", position 229',
        True),
    'binary garbage': (
        'shippable.yml:0:0: error: shippable.yml is not UTF-8 text (byte 128): not loaded',
        True),
    'unclosed quote': (
        'shippable.yml:15:1: error: YAML does not parse: found unexpected end of stream',
        True),
    'tab indentation': (
        "shippable.yml:15:1: error: YAML does not parse: found character '\\t' that cannot start any token",
        True),
    'undefined alias': (
        "shippable.yml:14:4: error: undefined alias 'nowhere' (no file anchors &nowhere)",
        False),
    'duplicate key': (
        "shippable.yml:14:1: warning: duplicate key 'jobs': the value at line 6 is ignored (the last one wins) (its entries paint are ignored)",
        False),
    'top level is a list': (
        'shippable.yml:1:1: error: the top level must be a mapping of keys (resources:, jobs:); nothing of this file is loaded',
        True),
    'top level is a scalar': (
        'shippable.yml:1:1: error: the top level must be a mapping of keys (resources:, jobs:); nothing of this file is loaded',
        True),
    'two documents': (
        "shippable.yml:1:1: error: more than one YAML document ('---') in one file",
        True),
    'merge of a scalar': (
        "shippable.yml:15:3: error: merge key '<<' needs a mapping or a list of mappings",
        False),
    'job name with ../': (
        "shippable.yml:14:5: error: job name '../../etc/passwd' is not allowed: " + NAME_RULE,
        False),
    'job name with /': (
        "shippable.yml:14:5: error: job name 'a/b' is not allowed: " + NAME_RULE,
        False),
    'job name with newline': (
        "shippable.yml:14:5: error: job name 'a\\nb' is not allowed: " + NAME_RULE,
        False),
    'job name with $()': (
        "shippable.yml:14:5: error: job name '$(touch /tmp/pwned)' is not allowed: " + NAME_RULE,
        False),
    'job name with ;': (
        "shippable.yml:14:5: error: job name 'x; rm -rf ~' is not allowed: " + NAME_RULE,
        False),
    'job name with backticks': (
        "shippable.yml:14:5: error: job name '`id`' is not allowed: " + NAME_RULE,
        False),
    'job name ending in a space': (
        "shippable.yml:14:5: error: job name 'a b ' is not allowed: " + NAME_RULE,
        False),
    'job name with a quote': (
        'shippable.yml:14:5: error: job name "a\'b" is not allowed: ' + NAME_RULE,
        False),
    'job name .git': (
        "shippable.yml:14:5: error: job name '.git' is not allowed: " + NAME_RULE,
        False),
    'job name ..': (
        "shippable.yml:14:5: error: job name '..' is not allowed: " + NAME_RULE,
        False),
    'empty job name': (
        "shippable.yml:14:5: error: job name '' is not allowed: " + NAME_RULE,
        False),
    'job name 300 chars': (f"{Y}:14:5: error: job name '{'a' * 300}' is not allowed: "
             + NAME_RULE, False),
    'job name is a list': ("shippable.yml:14:5: error: job without a 'name:'", False),
    'job name is null': ("shippable.yml:14:5: error: job without a 'name:'", False),
    'resource name with ../': (
        "shippable.yml:6:5: error: resource name '../x' is not allowed: " + NAME_RULE,
        False),
    'resource name with /': (
        "shippable.yml:6:5: error: resource name 'a/b' is not allowed: " + NAME_RULE,
        False),
    'resource name with $()': (
        "shippable.yml:6:5: error: resource name '$(id)' is not allowed: " + NAME_RULE,
        False),
    'resource name with newline': (
        "shippable.yml:6:5: error: resource name 'a\\nb' is not allowed: " + NAME_RULE,
        False),
    'resource name with NUL escape': (
        "shippable.yml:6:5: error: resource name 'a\\x00b' is not allowed: " + NAME_RULE,
        False),
    'duplicate job': (
        "shippable.yml:14:5: error: duplicate name 'paint': first defined at shippable.yml:7:5; this one is ignored",
        False),
    'duplicate resource': (
        "shippable.yml:6:5: error: duplicate name 'cfg': first defined at shippable.yml:2:5; this one is ignored",
        False),
    'job and resource share a name': (
        "shippable.yml:14:5: error: duplicate name 'cfg': first defined at shippable.yml:2:5; this one is ignored",
        False),
    'cycle of two': ('shippable.yml:14:5: error: jobs form a cycle: odd -> odd2 -> odd', False),
    'cycle of three': (
        'shippable.yml:18:5: error: jobs form a cycle: c2 -> c3 -> odd -> c2',
        False),
    'self input': ("shippable.yml:17:9: error: job 'odd' takes itself as input", False),
    'unknown input': (
        "shippable.yml:17:9: error: unresolved input 'nowhere' of job 'odd': no resource or job has this name",
        False),
    'unknown output': (
        "shippable.yml:17:9: error: unresolved output 'nowhere' of job 'odd': no resource or job has this name",
        False),
    'unknown resource type': (
        "shippable.yml:7:5: warning: unknown resource type 'warpDrive'",
        False),
    'unknown job type': (
        "shippable.yml:15:5: error: job 'odd' has unknown type 'teleport'",
        False),
    'job without a type': ("shippable.yml:14:5: error: job 'odd' has no 'type:'", False),
    'job without a name': ("shippable.yml:14:5: error: job without a 'name:'", False),
    'resource without a type': ("shippable.yml:6:5: error: resource 'odd' has no 'type:'", False),
    'jobs is a mapping': (
        "shippable.yml:6:1: error: 'jobs:' must be a list; the push is not loaded",
        True),
    'resources is a string': (
        "shippable.yml:1:1: error: 'resources:' must be a list; the push is not loaded",
        True),
    'steps is a string': (
        "shippable.yml:16:5: error: 'steps:' of job 'odd' must be a list",
        False),
    'script is a mapping': (
        "shippable.yml:18:19: warning: this script line is a YAML mapping (an unquoted ': '); read as 'a: b': quote the line",
        False),
    'a step is a string': (
        'shippable.yml:17:9: error: a step must be a mapping (IN/OUT/TASK)',
        False),
    'versionTemplate is a string': (
        "shippable.yml:8:5: error: 'versionTemplate:' of resource 'odd' must be a mapping",
        False),
    'switch is a word': (
        "shippable.yml:18:9: warning: switch 'maybe' is not on/off; using on",
        False),
    'timeout is text': (
        "shippable.yml:17:7: warning: timeoutMinutes 'soon' is not a number",
        False),
    'priority is a list': (
        'shippable.yml:9:5: warning: priority [1] is not a number; using 9999',
        False),
    'versionNumber is text': (
        "shippable.yml:18:9: error: versionNumber 'latest' of input 'cfg' is not a number",
        False),
    'IN is a list': ("shippable.yml:17:9: error: 'IN:' needs a name", False),
}
