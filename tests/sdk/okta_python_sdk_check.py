#!/usr/bin/env python3
"""Checks that Okta's official Python SDK (PyPI `okta`, 3.x) can read the simulated Okta:
all users and all app users of the kafkaman app, page by page with a small `limit`, and
that the SDK retries a 429 by itself.

    python3 tests/sdk/okta_python_sdk_check.py '<JSON line printed by `scim-sync sim`>'
    python3 tests/sdk/okta_python_sdk_check.py --url http://127.0.0.1:PORT --token TOKEN [--app APP_ID]
    scim-sync sim ... | python3 tests/sdk/okta_python_sdk_check.py -     # reads the first JSON line

The JSON line needs the Okta URL and token (keys `okta_url`/`url` and
`okta_token`/`okta_api_token`/`api_token`/`token`, also nested under `okta`); the app id
comes from `app_id` or from the simulator's `/__sim/state`.

How the SDK behaves (okta 3.4.6, read from its source):
- DPoP (`dpopEnabled: True` with `authorizationMode: PrivateKey`): an RS256 key of its
  own (`okta/dpop.py`); the first token request carries a proof, `400 use_dpop_nonce`
  is retried with the `dpop-nonce` value and a fresh client assertion (`okta/oauth.py`),
  and every call sends `Authorization: DPoP <token>` with a proof whose `htu` has no
  query.
- Pagination: 3.x list calls return `(items, ApiResponse, error)`; `ApiResponse` has no
  `has_next()/next()` any more (okta/okta-sdk-python#478). The SDK's own mechanism is
  `okta.pagination.paginate_pages/paginate_all`: it reads the `Link` header, takes the
  `rel="next"` URL's `after` query value, and calls the method again with that `after` and
  its own `limit`. It does NOT follow the next URL as is. The response headers become a
  dict, so of several `Link` header lines only the LAST one is seen: `rel="next"` must be
  the last line (Okta sends `self` first, then `next`).
- Retries (`RequestExecutor.fire_request_helper`): on 429, 503 and 504, up to
  `rateLimit.maxRetries` (default 2) times. It needs a `Date` header in the form
  `%a, %d %b %Y %H:%M:%S %Z` (IMF-fixdate, `GMT`) and `X-Rate-Limit-Reset` (epoch seconds,
  a number); without both it gives up with "429 response must have the 'X-Rate-Limit-Reset'
  and 'Date' headers". For a 429 it sleeps `X-Rate-Limit-Reset - Date + 1` seconds, then
  retries with `X-Okta-Retry-For: <X-Okta-Request-Id of the 429>` and
  `X-Okta-Retry-Count: n`. (503/504 are retried at once, with the same header checks.)
- Models: items are parsed into pydantic models generated from the spec (strict types,
  enums for `status`), so a field of the wrong type fails the whole page.
"""

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.error
import urllib.request

# The SDK refuses http:// org URLs unless this testing switch is on; it can only be set
# through the environment or okta.yaml (a dict config nests it under `client`).
os.environ.setdefault("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")

from okta.client import Client as OktaClient  # noqa: E402
from okta.pagination import PaginationHelper, paginate_pages  # noqa: E402

PAGE_LIMIT = 2
FAILURES = []
# The service app in tests/sdk/scenario.toml.
DPOP_CLIENT_ID = "0oasdkcheck000000001"


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        FAILURES.append(what)


def find(obj, keys):
    """First value of any of `keys` in obj or obj['okta']."""
    for scope in (obj, obj.get("okta") if isinstance(obj.get("okta"), dict) else {}):
        for k in keys:
            if scope.get(k):
                return scope[k]
    return None


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sim_json", nargs="?", help="JSON line from `scim-sync sim`, or - for stdin")
    ap.add_argument("--url")
    ap.add_argument("--token")
    ap.add_argument("--app")
    args = ap.parse_args()
    url, token, app = args.url, args.token, args.app
    if args.sim_json:
        text = args.sim_json
        if text == "-":
            text = next(line for line in sys.stdin if line.strip().startswith("{"))
        info = json.loads(text)
        url = url or find(info, ["okta_url", "url", "okta"])
        token = token or find(info, ["okta_token", "okta_api_token", "api_token", "token"])
        app = app or find(info, ["app_id", "okta_app_id"])
    if not url or not token:
        ap.error("need the Okta URL and token (JSON line or --url/--token)")
    return url.rstrip("/"), token, app


def sim_request(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def expected_from_state(state, app_id):
    """(logins the default user list returns, logins assigned to the app) per /__sim/state.

    The state format belongs to the simulator; this accepts users as a list or a map, with
    `profile.login` or `login`, and app users under a few plausible keys. If it can't find
    them it returns None and the counts are only printed."""
    def users_of(s):
        u = s.get("users")
        if isinstance(u, dict):
            u = list(u.values())
        return u if isinstance(u, list) else None

    okta = state.get("okta", state)
    users = users_of(okta)
    if users is None:
        return None, None

    def login(u):
        return (u.get("profile", {}).get("login") or u.get("login") or "").lower()

    listed = {login(u) for u in users if u.get("status") != "DEPROVISIONED"}
    by_id = {u.get("id"): login(u) for u in users}
    app_users = None
    for key in ("app_users", "appUsers", "assigned_users", "assignments"):
        v = okta.get(key)
        if isinstance(v, dict) and app_id in v:
            v = v[app_id]
        if isinstance(v, dict):
            v = list(v.values()) if not isinstance(next(iter(v.values()), None), (str, type(None))) else list(v)
        if isinstance(v, list):
            ids = set()
            for a in v:
                ids.add(a if isinstance(a, str) else (a.get("id") or a.get("user_id") or a.get("userId")))
            app_users = {by_id.get(i, i) for i in ids}
            break
    return listed, app_users


async def read_all(method, label, **kwargs):
    """Reads every page with the SDK's paginate_pages; returns (items, pages)."""
    items, pages = [], 0
    async for page, number, _has_more in paginate_pages(method, limit=PAGE_LIMIT, **kwargs):
        pages = number
        check(len(page) <= PAGE_LIMIT, f"{label}: page {number} has {len(page)} <= {PAGE_LIMIT} items")
        items.extend(page)
    return items, pages


async def main():
    url, token, app_id = parse_args()
    state = sim_request(f"{url}/__sim/state")
    if not app_id:
        okta_state = state.get("okta", state)
        app_id = (okta_state.get("app_id") or okta_state.get("appId")
                  or (okta_state.get("app") or {}).get("id"))
    check(bool(app_id), f"app id known ({app_id})")

    config = {"orgUrl": url, "token": token, "rateLimit": {"maxRetries": 2}}
    async with OktaClient(config) as client:
        # A first call with error reporting: paginate_pages swallows errors.
        first, resp, err = await client.list_users(limit=PAGE_LIMIT)
        check(err is None, f"list_users(limit={PAGE_LIMIT}) without error ({err})")
        if err is None:
            nxt = PaginationHelper.extract_next_cursor(resp.headers)
            check(nxt is not None, f"first users page has a next cursor the SDK can read (after={nxt!r})")

        users, pages = await read_all(client.list_users, "list_users")
        logins = {u.profile.login.lower() for u in users}
        print(f"     list_users: {len(users)} users in {pages} pages")
        check(len(logins) == len(users), "no user listed twice across pages")

        app_users, pages = await read_all(client.list_application_users, "list_application_users",
                                          app_id=app_id, expand="user")
        print(f"     list_application_users: {len(app_users)} app users in {pages} pages")
        embedded = [(au.embedded or {}).get("user") for au in app_users]
        check(all(isinstance(e, dict) and e.get("profile", {}).get("login") for e in embedded),
              "every app user has _embedded.user with a login (expand=user)")
        app_logins = {e["profile"]["login"].lower() for e in embedded if isinstance(e, dict)}
        app_ids = {au.id for au in app_users}
        check(len(app_ids) == len(app_users), "no app user listed twice across pages")

        listed, assigned = expected_from_state(state, app_id)
        if listed is not None:
            check(logins == listed, f"users match /__sim/state ({len(logins)} vs {len(listed)}; "
                                    f"missing {sorted(listed - logins)}, extra {sorted(logins - listed)})")
        else:
            print("     (could not read users from /__sim/state; counts not compared)")
        if assigned is not None:
            check(app_logins == assigned or app_ids == assigned,
                  f"app users match /__sim/state ({len(app_users)} vs {len(assigned)})")
        else:
            print("     (could not read app assignments from /__sim/state; counts not compared)")
        check(len(users) > PAGE_LIMIT, f"more users than one page ({len(users)} > {PAGE_LIMIT})")
        check(len(app_users) > PAGE_LIMIT, f"more app users than one page ({len(app_users)} > {PAGE_LIMIT})")

        # 429: arm one injected rate-limit answer; the SDK must retry and succeed.
        sim_request(f"{url}/__sim/requests", method="DELETE")
        try:
            sim_request(f"{url}/__sim/faults", method="POST",
                        body={"route": "/api/v1/users", "kind": "status", "status": 429, "count": 1})
        except urllib.error.HTTPError as e:
            check(False, f"POST /__sim/faults arms a 429 ({e.code}: {e.read().decode()[:200]})")
            return finish()
        started = time.monotonic()
        page, resp, err = await client.list_users(limit=PAGE_LIMIT)
        waited = time.monotonic() - started
        check(err is None and resp is not None and resp.status_code == 200,
              f"list_users after an injected 429 succeeds (err={err})")
        log = sim_request(f"{url}/__sim/requests")
        statuses = [r["status"] for r in log if r["path"] == "/api/v1/users"]
        check(statuses == [429, 200], f"the SDK retried the 429 once (statuses seen: {statuses})")
        print(f"     429 retry took {waited:.1f} s (the SDK sleeps X-Rate-Limit-Reset - Date + 1)")
        check(waited < 65, "retry wait bounded by one rate-limit window")

    await check_dpop(url, app_id, len(app_users))
    finish()


async def check_dpop(url, app_id, expected):
    """The SDK as an OAuth service app with DPoP (`dpopEnabled`, okta 3.4.6: a proof on
    the first token request, Okta's `use_dpop_nonce` retry, then `Authorization: DPoP` and
    a proof on every call) against the simulated Okta, whose service app requires DPoP."""
    key_path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "oauth-test-key.pem")
    with open(key_path) as f:
        private_key = f.read()
    sim_request(f"{url}/__sim/requests", method="DELETE")
    config = {
        "orgUrl": url,
        "authorizationMode": "PrivateKey",
        "clientId": DPOP_CLIENT_ID,
        "scopes": ["okta.apps.read", "okta.users.read"],
        "privateKey": private_key,
        "dpopEnabled": True,
    }
    async with OktaClient(config) as client:
        app_users, pages = await read_all(client.list_application_users, "DPoP list_application_users",
                                          app_id=app_id, expand="user")
    print(f"     DPoP: {len(app_users)} app users in {pages} pages")
    check(len(app_users) == expected, f"DPoP: every app user listed ({len(app_users)} of {expected})")
    log = sim_request(f"{url}/__sim/requests")
    tokens = [r["status"] for r in log if r["path"] == "/oauth2/v1/token"]
    check(tokens == [400, 200], f"DPoP: the nonce challenge, then a token (token statuses: {tokens})")
    calls = [r["status"] for r in log if r["path"].startswith("/api/v1/apps/")]
    check(calls and all(s == 200 for s in calls), f"DPoP: every call accepted (statuses: {calls})")
    state = sim_request(f"{url}/__sim/state")
    proofless = state.get("okta", state).get("proofless_token_requests")
    check(proofless == 0, f"DPoP: no token request without a proof ({proofless})")


def finish():
    if FAILURES:
        print(f"\n{len(FAILURES)} check(s) failed")
        sys.exit(1)
    print("\nall checks passed")


if __name__ == "__main__":
    asyncio.run(main())
