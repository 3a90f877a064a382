#!/usr/bin/env bash
# Runs Okta's official Python SDK (PyPI `okta`, pinned) against `scim-sync sim`: it must
# list users and app users through its own pagination, retry an injected 429 by itself,
# and, as an OAuth service app with DPoP, get a token and list the app users.
# See tests/sdk/README.md. Installs the SDK in a venv (default target/okta-sdk-venv;
# OKTA_SDK_VENV overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${OKTA_SDK_VENV:-target/okta-sdk-venv}"
# The SDK version whose behaviour tests/sdk/okta_python_sdk_check.py describes.
sdk="okta==3.4.6"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/pip" show okta 2>/dev/null | grep -qx "Version: ${sdk#okta==}"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "$sdk"
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
