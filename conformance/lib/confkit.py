"""Shared helpers for Ironstone conformance suites.

Output convention (every suite, every language):
    PASS <suite>: <step name>
    FAIL <suite>: <step name>: <why>
    <suite>: N passed, M failed

`why` must let a reader diagnose the failure from the CI log alone: HTTP status and
response body, or the CLI command, exit code and stderr.
"""

import contextlib
import json
import os
import secrets
import shlex
import subprocess
import sys
import time
import traceback

import requests


class CheckError(AssertionError):
    """An expectation about Keystone's answer that did not hold."""


class HTTPFailure(CheckError):
    def __init__(self, method, url, status, body, expected=None):
        self.method, self.url, self.status, self.body = method, url, status, body
        exp = f" (expected {expected})" if expected is not None else ""
        super().__init__(f"{method} {url} -> HTTP {status}{exp}: {_clip(body)}")


class CLIFailure(CheckError):
    def __init__(self, argv, rc, stdout, stderr):
        self.argv, self.rc, self.stdout, self.stderr = argv, rc, stdout, stderr
        super().__init__(
            f"`{' '.join(shlex.quote(a) for a in argv)}` exited {rc}; "
            f"stderr: {_clip(stderr.strip())}; stdout: {_clip(stdout.strip(), 400)}")


def _clip(text, limit=1500):
    text = text if isinstance(text, str) else repr(text)
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit] + f"...[{len(text) - limit} more chars]"


def _one_line(text):
    return " ".join(str(text).split("\n"))


class Steps:
    """Records step results and prints them in the suite output convention."""

    def __init__(self, suite):
        self.suite = suite
        self.passed = 0
        self.failed = 0
        self.verbose = os.environ.get("IRONSTONE_CONFORMANCE_VERBOSE") == "1"

    @contextlib.contextmanager
    def step(self, name):
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - a step must never kill the suite
            self.fail(name, exc)
        else:
            self.ok(name)

    def ok(self, name):
        self.passed += 1
        print(f"PASS {self.suite}: {name}", flush=True)

    def fail(self, name, exc):
        self.failed += 1
        if isinstance(exc, CheckError):
            why = str(exc)
        else:
            why = describe_exc(exc)
        print(f"FAIL {self.suite}: {name}: {_one_line(why)}", flush=True)
        # A traceback helps with a crash in the suite itself, not with an HTTP error answered by
        # the server (its status and body are in the FAIL line already).
        if self.verbose or not (isinstance(exc, CheckError) or http_status_of(exc)):
            tb = traceback.format_exc(limit=6)
            sys.stderr.write(tb)
            sys.stderr.flush()

    def skip(self, name, why):
        """A step that does not apply to this target (say why). Neither passed nor failed; the
        SKIP line is a note for the reader, conformance/run counts only PASS and FAIL."""
        print(f"SKIP {self.suite}: {name}: {_one_line(why)}", flush=True)

    def run(self, name, fn, *args, **kwargs):
        """Run fn as a step; return its result, or None when it failed."""
        with self.step(name):
            return fn(*args, **kwargs)
        return None

    def finish(self):
        print(f"{self.suite}: {self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


def describe_exc(exc):
    """An exception as a one-line diagnosis. Client library errors that carry the HTTP response
    (keystoneauth1 HttpError, openstacksdk HttpException, requests) show method, URL, status and
    body, which their own messages often leave out."""
    resp = getattr(exc, "response", None)
    status = getattr(resp, "status_code", None)
    if resp is not None and status is not None:
        req = getattr(resp, "request", None)
        method = getattr(req, "method", None) or getattr(exc, "method", None) or "?"
        url = getattr(resp, "url", None) or getattr(exc, "url", None) or "?"
        return (f"{type(exc).__name__}: {method} {url} -> HTTP {status}: "
                f"{_clip(getattr(resp, 'text', ''))}")
    return f"{type(exc).__name__}: {_clip(str(exc))}"


def http_status_of(exc):
    """The HTTP status behind a client library exception, or None."""
    for attr in ("http_status", "status_code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    resp = getattr(exc, "response", None)
    return getattr(resp, "status_code", None)


def expect_error(fn, status, what):
    """Call fn(); it must raise an HTTP error with `status` (an int or a tuple). Returns the
    exception; raises CheckError when fn succeeded or failed differently."""
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001
        got = http_status_of(exc)
        ok = got in status if isinstance(status, (tuple, list, set)) else got == status
        if not ok:
            raise CheckError(f"{what}: expected HTTP {status}, got {describe_exc(exc)}") from exc
        return exc
    raise CheckError(f"{what}: expected HTTP {status}, but it succeeded: {_clip(repr(result), 500)}")


def need(ctx, *keys):
    """Values a step depends on; a CheckError naming the missing ones when an earlier step
    that should have produced them failed."""
    missing = [k for k in keys if ctx.get(k) is None]
    if missing:
        raise CheckError(f"prerequisite failed or missing: {', '.join(missing)}")
    return ctx[keys[0]] if len(keys) == 1 else [ctx[k] for k in keys]


# --------------------------------------------------------------------------- target

def target():
    """"ironstone" or "keystone" (the reference Keystone, IRONSTONE_TARGET=keystone)."""
    return os.environ.get("IRONSTONE_TARGET", "ironstone")


def on_keystone():
    return target() == "keystone"


def settle():
    """Wait past the current second. Keystone records revocation events (disable, password
    change, role or group removal) with the current time and revokes every token issued at or
    before it; a fernet token's issue time has whole seconds, so a token issued in the same
    second as such an event counts as revoked. Real clients never notice; fast scripts do."""
    time.sleep(1.1)


# --------------------------------------------------------------------------- checks

def check(cond, message):
    if not cond:
        raise CheckError(message)


def eq(actual, expected, what):
    if actual != expected:
        raise CheckError(f"{what}: expected {expected!r}, got {actual!r}")


def contains(collection, item, what):
    if item not in collection:
        raise CheckError(f"{what}: {item!r} not in {collection!r}")


def absent(collection, item, what):
    if item in collection:
        raise CheckError(f"{what}: {item!r} unexpectedly in {collection!r}")


def rand_name(prefix):
    return f"{prefix}-{secrets.token_hex(4)}"


def rand_password():
    # Satisfies common password policies: letters, digits, punctuation, 20 chars.
    return "Pw1-" + secrets.token_urlsafe(12) + "x9"


# --------------------------------------------------------------------------- environment

def auth_env():
    """The OS_* variables the harness exports, as a dict."""
    need = ["OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME",
            "OS_USER_DOMAIN_NAME", "OS_PROJECT_DOMAIN_NAME"]
    missing = [k for k in need if not os.environ.get(k)]
    if missing:
        sys.exit(f"missing environment: {', '.join(missing)} (run through conformance/run)")
    return {k: v for k, v in os.environ.items() if k.startswith("OS_")}


def auth_url():
    return os.environ["OS_AUTH_URL"].rstrip("/")


# --------------------------------------------------------------------------- openstack CLI

_OS_AUTH_KEYS = ("OS_AUTH_TYPE", "OS_USERNAME", "OS_USER_ID", "OS_PASSWORD", "OS_PROJECT_NAME",
                 "OS_PROJECT_ID", "OS_USER_DOMAIN_NAME", "OS_USER_DOMAIN_ID",
                 "OS_PROJECT_DOMAIN_NAME", "OS_PROJECT_DOMAIN_ID", "OS_TOKEN",
                 "OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_SECRET",
                 "OS_APPLICATION_CREDENTIAL_NAME", "OS_CLOUD", "OS_DOMAIN_NAME", "OS_DOMAIN_ID",
                 "OS_SYSTEM_SCOPE", "OS_TENANT_NAME", "OS_TENANT_ID")


def cli_env(**overrides):
    """Environment for the CLI: the harness's admin credentials unless `overrides` replaces the
    identity. Pass `identity={...}` to start from a clean set of auth variables."""
    env = dict(os.environ)
    identity = overrides.pop("identity", None)
    if identity is not None:
        for key in _OS_AUTH_KEYS:
            env.pop(key, None)
        env.update(identity)
    env.update(overrides)
    return env


def user_identity(username, password, project_name, domain="Default"):
    return {"OS_USERNAME": username, "OS_PASSWORD": password, "OS_PROJECT_NAME": project_name,
            "OS_USER_DOMAIN_NAME": domain, "OS_PROJECT_DOMAIN_NAME": domain}


def openstack(*args, env=None, fmt_json=True, expect_fail=False, timeout=120):
    """Run `openstack ARGS` (adds `-f json` when fmt_json). Returns parsed JSON (or stdout text).

    Raises CLIFailure with the command, exit code and stderr when it fails; with
    expect_fail=True it instead returns the CLIFailure if the command failed and raises
    CheckError if it unexpectedly succeeded."""
    argv = ["openstack", *[str(a) for a in args]]
    if fmt_json:
        argv += ["-f", "json"]
    proc = subprocess.run(argv, env=env or os.environ.copy(), capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        failure = CLIFailure(argv, proc.returncode, proc.stdout, proc.stderr)
        if expect_fail:
            return failure
        raise failure
    if expect_fail:
        raise CheckError(f"`{' '.join(argv)}` unexpectedly succeeded: {_clip(proc.stdout)}")
    if not fmt_json:
        return proc.stdout
    out = proc.stdout.strip()
    if not out:
        return None
    try:
        return json.loads(out)
    except ValueError as exc:
        raise CheckError(f"`{' '.join(argv)}` printed non-JSON output: {_clip(out)}") from exc


def names(rows, key="Name"):
    return [r.get(key) for r in rows]


# --------------------------------------------------------------------------- raw HTTP

def http(method, path_or_url, token=None, expect=None, json_body=None, headers=None, **kwargs):
    """Call the identity API. `expect` is an int or a tuple of acceptable statuses; raises
    HTTPFailure (status + body) otherwise. Returns the requests.Response."""
    url = path_or_url if path_or_url.startswith("http") else auth_url() + path_or_url
    hdrs = {"Accept": "application/json"}
    if token:
        hdrs["X-Auth-Token"] = token
    hdrs.update(headers or {})
    resp = requests.request(method, url, headers=hdrs, json=json_body, timeout=60, **kwargs)
    if expect is not None:
        ok = (resp.status_code in expect) if isinstance(expect, (tuple, list, set)) \
            else resp.status_code == expect
        if not ok:
            raise HTTPFailure(method, url, resp.status_code, resp.text, expected=expect)
    return resp


def password_token(username, password, project_name, domain="Default", expect=201):
    """POST /v3/auth/tokens with a project-scoped password request; returns (token, body)."""
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": username, "domain": {"name": domain}, "password": password}}},
        "scope": {"project": {"name": project_name, "domain": {"name": domain}}}}}
    resp = http("POST", "/auth/tokens", json_body=body, expect=expect)
    return resp.headers.get("X-Subject-Token"), (resp.json() if resp.content else None)


def admin_token():
    env = auth_env()
    tok, _ = password_token(env["OS_USERNAME"], env["OS_PASSWORD"], env["OS_PROJECT_NAME"],
                            env.get("OS_USER_DOMAIN_NAME", "Default"))
    return tok


def validate(admin_tok, subject, expect=200, params=None):
    return http("GET", "/auth/tokens", token=admin_tok, headers={"X-Subject-Token": subject},
                expect=expect, params=params)


class Cleanup:
    """Best-effort cleanup stack: register callables, run them in reverse at the end."""

    def __init__(self):
        self._stack = []

    def add(self, fn, *args, **kwargs):
        self._stack.append((fn, args, kwargs))

    def run(self):
        while self._stack:
            fn, args, kwargs = self._stack.pop()
            try:
                fn(*args, **kwargs)
            except Exception:  # noqa: BLE001
                pass
