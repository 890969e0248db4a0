#!/usr/bin/env bash
# Installs everything the program and its test suite need on a Debian 12 machine, as root:
# Debian packages for the end-to-end tests (real MariaDB servers, backup tool, socat/ncat,
# network namespaces), the metrics tests (promtool, mysqld-exporter) and shellcheck, and a
# virtual environment .venv with the Python packages.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $(id -u) == 0 ]] || { echo "install.sh: run as root (it installs Debian packages)" >&2; exit 1; }
command -v apt-get >/dev/null || { echo "install.sh: needs a Debian-based machine (apt-get)" >&2; exit 1; }

packages=(python3 python3-venv mariadb-server mariadb-backup socat ncat shellcheck iproute2
  util-linux procps prometheus prometheus-mysqld-exporter)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$package")
done
if ((${#missing[@]})); then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

[[ -x .venv/bin/python ]] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements-dev.txt
# Checkov pins versions that conflict with pulumi's (packaging<24): it gets an environment of its own.
[[ -x .venv-checkov/bin/python ]] || python3 -m venv .venv-checkov
.venv-checkov/bin/python -m pip install -q -r policy/requirements-checkov.txt
