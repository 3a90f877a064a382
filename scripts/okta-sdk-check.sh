#!/usr/bin/env bash
# Runs Okta's official Python SDK (PyPI `okta`) against `scim-sync sim`: it must list
# users and app users through its own pagination and retry an injected 429 by itself.
# See tests/sdk/README.md. Installs the SDK in a venv (default target/okta-sdk-venv;
# OKTA_SDK_VENV overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${OKTA_SDK_VENV:-target/okta-sdk-venv}"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c "import okta" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet okta
fi
cargo build --quiet
out="$(mktemp)"
target/debug/scim-sync sim --scenario tests/sdk/scenario.toml >"$out" 2>/dev/null &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null || true; wait $sim_pid 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 1 100); do
    [[ -s "$out" ]] && break
    sleep 0.1
done
"$venv/bin/python" tests/sdk/okta_python_sdk_check.py "$(head -n 1 "$out")"
