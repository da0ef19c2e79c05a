#!/bin/sh
# The "application": prints a greeting.
echo "hello, ${1:-world}"
