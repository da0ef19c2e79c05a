#!/usr/bin/env bash
# Quick start: install Gitline in .venv, create a home, push sample-repo/ to it, run the controller.
# Stop it with Ctrl-C; run this again to resume (the sample is pushed only once).
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD
home=${GITLINE_HOME:-$here/.gitline-home}
export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-Gitline Demo} GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-demo@localhost}
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL

[ -x .venv/bin/gitline ] || { python3 -m venv .venv && .venv/bin/pip install -q -e .; }
export PATH="$here/.venv/bin:$PATH"

gitline init "$home" >/dev/null
# jobs run in a sandbox that sees only their workdir: the sample deploys to this folder
export GITLINE_DEMO_ROOT=${GITLINE_DEMO_ROOT:-/tmp/gitline-demo} GITLINE_PASS_ENV=GITLINE_DEMO_ROOT
mkdir -p "$GITLINE_DEMO_ROOT" && export GITLINE_SANDBOX_BIND=$GITLINE_DEMO_ROOT
if ! git --git-dir="$home/config.git" rev-parse -q --verify refs/heads/main >/dev/null; then
  work=$(mktemp -d)
  cp -R sample-repo/. "$work"
  git -C "$work" init -q -b main
  git -C "$work" add -A
  git -C "$work" commit -q -m "Sample assembly line: build, test, deploy to staging and prod"
  git -C "$work" push -q "$home/config.git" main
  rm -rf "$work"
fi

cat <<MSG
Gitline home: $home   (controller starting; Ctrl-C stops it)
In another shell:
  git clone $home/config.git work && cd work
  echo 'REASON: first release' > triggers/deploy_prod && git add -A && git commit -m 'deploy' && git push
  $here/.venv/bin/gitline approve $home deploy_prod -m 'staging looks good'   # prod waits for this
  git fetch origin state && git log --oneline origin/state
  $here/.venv/bin/gitline status $home
MSG
exec gitline serve "$home"
