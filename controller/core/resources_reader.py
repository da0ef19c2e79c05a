"""One entry of `resources:` (or `triggers:`) -> a `model.Resource`, with its problems.

Owns: the resource's type (known, 2016's, unknown), its definition (versionTemplate and
the older pointer/seed/version/source, merged into one plain mapping) and its digest, a
gitRepo's tracked folder of the config repository or its remote, and what a time or a
notification resource would refuse later, said now at its line. Pure.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from controller.core import coerce, model, notices, remotes, timing, vocabulary
from controller.core.yamldata import Pos, YMap

KNOWN_RESOURCE_TYPES = frozenset(vocabulary.RESOURCE_TYPES)
OLD_RESOURCE_TYPES = frozenset(vocabulary.OLD_RESOURCE_TYPES)


def definition_digest(rtype: str, definition: dict[str, Any], integration: str) -> str:
    """What decides whether a config push makes a new version (`versions.py`)."""
    doc = {"type": rtype, "definition": definition, "integration": integration}
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResourceReader:
    """Reads resources; remembers where each names its integration (a secret), so that a
    secret outside its scope is said at that line."""

    def __init__(self, report: coerce.Reporter, self_names: frozenset[str],
                 sources: frozenset[str] = frozenset()) -> None:
        self.sources = sources  # sourceName values naming another source of the subscription
        self.report = report
        self.self_names = self_names  # sourceName values meaning the config repository
        self.integration_at: dict[str, model.Location] = {}

    def read(self, name: str, item: YMap, is_trigger: bool) -> model.Resource | None:
        """The resource `name` of `item` (a `triggers:` entry is of type trigger), or None
        when it cannot be used at all (said why)."""
        rtype = item.get("type", "trigger" if is_trigger else None)
        if not isinstance(rtype, str) or not rtype:
            self.report.error(item.pos, f"resource '{name}' has no 'type:'", name)
            return None
        if rtype in OLD_RESOURCE_TYPES:
            self.report.warn(item.at("type"), f"resource type '{rtype}' is non-current (2016)",
                             name)
        elif rtype not in KNOWN_RESOURCE_TYPES:
            self.report.warn(item.at("type"), f"unknown resource type '{rtype}'", name)
        definition = self.definition(name, item)
        if rtype == "time":
            self.check_schedule(name, item, definition)
        if rtype == "notification":
            self.check_notification(name, item, definition)
        integration = coerce.as_text(item.get("integration"))
        if integration:
            self.integration_at[name] = self.report.loc(item.at("integration"))
        tracks: str | None = None
        source_name = coerce.as_text(definition.get("sourceName"))
        on_source = source_name if rtype == "gitRepo" and source_name in self.sources else ""
        if on_source or (rtype == "gitRepo" and source_name in self.self_names):
            tracks = self.tracked_path(name, item, definition)
            if tracks is None:
                return None
        elif rtype == "gitRepo" and not self.check_remote(name, item, definition):
            return None
        return model.Resource(
            name=name,
            type=rtype,
            definition=definition,
            location=self.report.loc(item.pos),
            integration=integration,
            flags=coerce.as_texts(item.get("flags")),
            tracks_path=tracks,
            tracks_source=on_source,
            digest=definition_digest(rtype, definition, integration),
        )

    def check_remote(self, name: str, item: YMap, definition: dict[str, Any]) -> bool:
        """A gitRepo elsewhere names a real remote: never an option or a remote helper."""
        key = "url" if definition.get("url") else "sourceName"
        value = coerce.as_text(definition.get(key))
        if not value:
            return True
        if key == "sourceName" and remotes.ORG_REPO.fullmatch(value):
            return True  # org/repo on its integration's host
        # local paths are the HOME's decision (allow_local_repos), made where it is known
        problem = remotes.url_problem(value, allow_local=True)
        if problem:
            self.report.error(self.key_pos(item, key), f"resource '{name}': {key}: {problem}", name)
        return problem is None

    def key_pos(self, item: YMap, key: str) -> Pos:
        """Where a definition key is written (in whichever part of the resource holds it)."""
        for part in vocabulary.DEFINITION_PARTS:
            sub = item.get(part)
            if isinstance(sub, YMap) and key in sub:
                return sub.at(key)
        return item.pos

    def check_notification(self, name: str, item: YMap, definition: dict[str, Any]) -> None:
        """What delivery would refuse, said at its line now: an unknown method, a login
        named by the workflow, a recipient with CR/LF (a forged mail header) or, for
        email, not an address."""
        method = coerce.as_text(definition.get("method")).strip().lower()
        if method and method not in notices.METHODS:
            self.report.error(self.key_pos(item, "method"), f"resource '{name}': method "
                              f"{method!r} is not one of {', '.join(notices.METHODS)}", name)
        if not method and item.get("integration"):  # not silently Slack: say what decides
            self.report.say(item.at("integration"), f"resource '{name}' has an integration "
                            f"and no method: {notices.BY_SECRET}", "info", name)
        refused = notices.smtp_problem(definition.get("smtp"))
        if refused:
            self.report.error(self.key_pos(item, "smtp"), f"resource '{name}': {refused}", name)
        method = method or (
            "email" if not item.get("integration") and not definition.get("url_secret")
            else "")
        raw = definition.get("recipients")
        for recipient in raw if isinstance(raw, list) else [] if raw is None else [raw]:
            problem = notices.recipient_problem(str(recipient).strip(), method)
            if problem:
                self.report.error(self.key_pos(item, "recipients"),
                                  f"resource '{name}': {problem}", name)

    def definition(self, name: str, item: YMap) -> dict[str, Any]:
        """versionTemplate, and older pointer/seed/version/source, as one plain mapping."""
        definition: dict[str, Any] = {}
        for part in vocabulary.DEFINITION_PARTS:
            if part not in item or item[part] is None:
                continue
            if not isinstance(item[part], dict):
                self.report.error(item.at(part),
                                  f"'{part}:' of resource '{name}' must be a mapping", name)
                continue
            if part == "source":
                self.report.warn_once(
                    item.at(part), "'source:' is 2016 syntax; read as 'versionTemplate:'"
                )
            definition.update(coerce.plain(item[part]))
        return definition

    def check_schedule(self, name: str, item: YMap, definition: dict[str, Any]) -> None:
        """A time resource whose interval, timezone or catchup is bad: an error at its line."""
        try:
            timing.parse_schedule(definition)
        except timing.ScheduleError as err:
            where = item.pos
            key = next((k for k in ("interval", "timezone", "catchup") if k in str(err)), "")
            for part in vocabulary.DEFINITION_PARTS:
                block = item.get(part)
                if isinstance(block, YMap) and key in block:
                    where = block.at(key)
            self.report.error(where, f"resource '{name}': {err}; it never ticks", name)

    def tracked_path(self, name: str, item: YMap, definition: dict[str, Any]) -> str | None:
        """The folder of the config repository a gitRepo on it tracks (never above it)."""
        raw = coerce.as_text(definition.get("path")).replace("\\", "/").strip("/")
        parts = [p for p in raw.split("/") if p not in ("", ".")]
        if ".." in parts:
            self.report.error(item.pos, f"resource '{name}': path {raw!r} may not contain '..'",
                              name)
            return None
        return "/".join(parts)
