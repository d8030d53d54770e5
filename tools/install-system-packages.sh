#!/usr/bin/env bash
# Install the Debian packages the test suite needs, when they are missing.
#   rclone                      the rclone storage plugin's binary (tests marked `rclone`)
#   slurm-wlm, slurmctld,       a real single-node SLURM cluster for the profile test (tests marked `slurm`)
#   slurmd, slurm-client, munge
# Idempotent: installed packages are left alone and `apt-get update` runs at most once.
# As a non-root user it installs nothing: it names what is missing (those tests then skip) and exits 0.
set -euo pipefail

PACKAGES=(rclone slurm-wlm slurmctld slurmd slurm-client munge)

missing=()
for package in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$package")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-system-packages: all present (${PACKAGES[*]})"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-packages: no apt-get here; missing: ${missing[*]} (the tests that need them will skip)" >&2
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    echo "install-system-packages: not root; missing: ${missing[*]}" >&2
    echo "  install them with: sudo apt-get install ${missing[*]}   (until then the tests that need them skip)" >&2
    exit 0
fi

echo "install-system-packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Another apt run (a parallel CI step, unattended upgrades) holds the lock for a while: wait for it.
APT_WAIT=(-o DPkg::Lock::Timeout=600)
apt-get "${APT_WAIT[@]}" update -q
# The packages' own service start-up fails harmlessly without systemd; the tests start the daemons themselves.
apt-get "${APT_WAIT[@]}" install -y -q --no-install-recommends "${missing[@]}"
