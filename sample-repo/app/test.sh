#!/bin/sh
# The application's tests: run it and check its output.
set -e
out=$("$1" gitline)
[ "$out" = "hello, gitline" ] || { echo "FAIL: got '$out'"; exit 1; }
echo "PASS: $out"
