#!/bin/sh
# Prepare an offline Conan home (CONAN_HOME, kept inside the build tree by tox/CI): default
# profile, conancenter disabled, our local recipes exported and built.
set -eu
cd "$(dirname "$0")/.."
conan profile detect --exist-ok >/dev/null 2>&1 || conan profile detect --exist-ok
conan remote disable conancenter >/dev/null 2>&1 || true
conan create recipes/simde/all --version 0.8.2 --build=missing >/dev/null
echo "conan: home $(conan config home), simde/0.8.2 ready"
