#!/bin/bash
# deps.sh: install the Debian packages spoolq needs, if any are missing.
#
#   scripts/deps.sh build    # to build and run spoolq
#   scripts/deps.sh test     # to build and run the test suite as well
#
# As root it runs apt-get (waiting for another apt to finish); otherwise
# it prints the exact apt-get line to run and fails.
set -euo pipefail

build_pkgs=(gcc pkg-config meson ninja-build libyaml-dev nettle-dev libxxhash-dev libopenmpi-dev openmpi-bin scdoc)  # scdoc: the man pages
test_pkgs=(libcriterion-dev python3 util-linux graphviz fiu-utils)
test_pkgs+=(slurm-wlm munge iproute2)  # tests/slurm (a real Slurm), tests/multinode (network namespaces)
test_pkgs+=(python3-jsonschema chromium bash-completion)  # tests/json (schemas), tests/report (headless browser), tests/docs (completion)
test_pkgs+=(clang libclang-rt-14-dev libomp-14-dev faketime)  # tests/fuzz (libFuzzer; clang's OpenMP), tests/cli/clock_skew.sh

pkgs=("${build_pkgs[@]}")
if [ "${1:-build}" = test ]; then
	pkgs+=("${test_pkgs[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

apt_line="apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "spoolq needs these Debian packages: ${missing[*]}" >&2
	echo "install them with:  sudo $apt_line" >&2
	exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Try the local package lists first (fast, offline); refresh them if that
# fails (a fresh machine may have none).
if ! $apt_line >/tmp/spoolq-apt.log 2>&1; then
	apt-get -o DPkg::Lock::Timeout=600 update >>/tmp/spoolq-apt.log 2>&1 || true
	if ! $apt_line >>/tmp/spoolq-apt.log 2>&1; then
		tail -20 /tmp/spoolq-apt.log >&2
		echo "apt-get failed; the full log is /tmp/spoolq-apt.log" >&2
		exit 1
	fi
fi
