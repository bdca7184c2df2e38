#!/bin/sh
# Installs Debian packages the tests need, quietly, as root or through sudo.
# Usage: scripts/apt-install.sh PACKAGE...
set -eu
echo "== installing Debian's $*"
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
