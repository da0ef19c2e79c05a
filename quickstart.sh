#!/usr/bin/env bash
# Quick start: install Gitline in .venv, create a home, push sample-repo/ to it, run the controller.
# Stop it with Ctrl-C; run this again to resume (the sample is pushed only once).
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD
home=${GITLINE_HOME:-$here/.gitline-home}
export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-Gitline Demo} GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-demo@localhost}
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL

# GITLINE_BIN: a gitline executable to use instead of installing one in .venv (the tests)
if [ -n "${GITLINE_BIN:-}" ]; then
  gitline=$GITLINE_BIN
else
  [ -x .venv/bin/gitline ] || { python3 -m venv .venv && .venv/bin/pip install -q -e .; }
  gitline=$here/.venv/bin/gitline
fi

"$gitline" init "$home" >/dev/null
if ! git --git-dir="$home/config.git" rev-parse -q --verify refs/heads/main >/dev/null; then
  work=$(mktemp -d)
  cp -R sample-repo/. "$work"
  git -C "$work" init -q -b main
  git -C "$work" add -A
  git -C "$work" commit -q -m "Sample assembly line: build, test, deploy to staging and prod"
  git -C "$work" push -q "$home/config.git" main
  rm -rf "$work"
fi

# a token for the web view, made once and kept in the home (0600): the browser signs in with it
if [ ! -s "$home/web-token" ]; then
  (umask 077 && "$gitline" token add "$home" web --scope read,trigger,approve 2>/dev/null \
     > "$home/web-token") || rm -f "$home/web-token"
fi
listen=${GITLINE_LISTEN:-127.0.0.1:8080}

printf -v q_home %q "$home"
printf -v q_gitline %q "$gitline"
web=""
case "$listen" in none|off|"") ;; *)
  web="Web view: http://$listen/   (sign in with the token in $home/web-token)"$'\n' ;;
esac
cat <<MSG
Gitline home: $home   (controller starting; Ctrl-C stops it)
${web}In another shell:
  git clone $q_home/config.git work && cd work
  mkdir -p triggers && echo 'REASON: first release' > triggers/deploy_prod && git add -A && git commit -m 'deploy' && git push
  $q_gitline approve $q_home deploy_prod -m 'staging looks good'   # prod waits for this
  git fetch origin state && git log --oneline origin/state
  git show origin/state:resources/prod_site/files/greeting.txt   # what prod got
  $q_gitline status $q_home
MSG
exec "$gitline" serve "$home"
