#!/bin/sh
# Build the artefact: a tarball of the application and its tests.
set -e
dist="$1"; build="$2"
mkdir -p "$dist"
sh -n hello.sh
echo "$(cat VERSION)-$build" > BUILD
tar -czf "$dist/hello.tar.gz" hello.sh test.sh BUILD
echo "built hello $(cat BUILD)"
