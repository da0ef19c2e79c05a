"""The managed job types that need no cloud: `release` and `manifest`.

They run inside the workspace like a TASK, and leave their results where `shipctl`
would: a new version of an output in OUT/<res>/version.json, and files in JOB_STATE, so
collecting a managed run is the same as collecting a runSh run.

- manifest: a versioned bundle of its image, params, file and manifest inputs, written to
  JOB_STATE/manifest.json (the run number is the manifest's version).
- release: bumps the job's `version` resource (`bump: major|minor|patch|rc|alpha|beta|
  final`, none = release as it is), writes the new version of that resource and
  JOB_STATE/release.json with the version and the manifests it released.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.core import runenv, versionrecord
from controller.core.runspec import InputSpec, RunSpec
from controller.core.versions import bump_version

MANAGED_TYPES = frozenset({"release", "manifest"})


def run(spec: RunSpec, workdir: Path, say: Callable[[str], None]) -> None:
    """Do the job's managed work in `workdir`; raises ValueError with a message on misuse
    (`versions.BumpError` for a version that cannot be bumped)."""
    state = workdir / runenv.STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    if spec.job.type == "manifest":
        manifest = build_manifest(spec.inputs)
        (state / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        say(f"--- manifest: {len(manifest['images'])} images, {len(manifest['params'])} params")
        return
    release_version(spec, workdir, state, say)


def _version_fields(inp: InputSpec) -> dict[str, Any]:
    v = inp.version
    return {"versionName": v.name if v else "", "versionNumber": v.number if v else 0,
            "values": dict(v.values) if v else {}}


def build_manifest(inputs: tuple[InputSpec, ...]) -> dict[str, Any]:
    """What a manifest bundles: images, params and files by name, and nested manifests."""
    manifest: dict[str, Any] = {"images": {}, "params": {}, "files": {}, "manifests": {}}
    for inp in inputs:
        if inp.kind == "job":
            nested = inp.files.get("manifest.json")
            if nested:
                manifest["manifests"][inp.name] = json.loads(nested)
        elif inp.type == "image":
            manifest["images"][inp.name] = _version_fields(inp)
        elif inp.type == "params":
            manifest["params"][inp.name] = _version_fields(inp)
        elif inp.type == "file":
            manifest["files"][inp.name] = _version_fields(inp)
    return manifest


def release_version(spec: RunSpec, workdir: Path, state: Path, say: Callable[[str], None]) -> None:
    target = next((o for o in spec.outputs if o.type == "version"), None)
    if target is None:
        raise ValueError("a release job needs a `version` resource as IN or OUT")
    source = next((i for i in spec.inputs if i.name == target.name), None)
    current = (target.current or (source.version if source else None))
    seed = str(target.definition.get("versionName") or "0.0.0")
    old = current.name if current and current.name else seed
    new = bump_version(old, spec.job.bump) if spec.job.bump else old
    manifests = {i.name: json.loads(i.files["manifest.json"]) for i in spec.inputs
                 if i.kind == "job" and "manifest.json" in i.files}
    out_dir = workdir / "OUT" / runenv.check_name(target.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = versionrecord.Written(replace=False, values={"versionName": new}, version_name=new)
    (out_dir / runenv.VERSION_FILE).write_text(versionrecord.encode_written(record))
    release = {"versionName": new, "previous": old, "bump": spec.job.bump or "none",
               "manifests": manifests}
    (state / "release.json").write_text(json.dumps(release, indent=2, sort_keys=True))
    say(f"--- release: {target.name} {old} -> {new} ({spec.job.bump or 'no bump'})")
