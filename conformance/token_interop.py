#!/usr/bin/env python3
"""Fernet token interoperability between Ironstone and Keystone's own token formatter.

Keystone (keystone==30.0.0 from PyPI) is used as a library only: its TokenFormatter, payload
classes and FernetUtils, configured programmatically through keystone.conf.CONF.

Against a live server (the harness's environment: OS_AUTH_URL, OS_USERNAME, OS_PASSWORD,
OS_PROJECT_NAME, OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME, IRONSTONE_KEY_REPOSITORY):

  1. Ironstone issues a project-scoped password token.
  2. Keystone decodes it; every field equals Ironstone's token body, payload version is 2, and
     the msgpack payload is byte-identical to what Keystone would encode for the same values.
  3. Keystone makes a version-2 token; Ironstone validates it (GET /v3/auth/tokens).
  4. The same both ways for an application-credential token (payload version 9).
  5. A token made with a key outside the repository, and a tampered token, answer 404.
  6. Offline: Keystone's FernetUtils and `ironstone fernet setup|rotate` produce the same key
     file sets after setup and after each of 4 rotations (max_active_keys=3).

`--offline` runs only the checks that need no server (Keystone self-check and step 6).
Output: `PASS <suite>: <step>` / `FAIL <suite>: <step>: <why>`, then
`<suite>: N passed, M failed`; exit status 1 when anything failed. <suite> is `token-interop`
unless `--suite` says otherwise (suites/40-token-interop passes its own file name, which is what
conformance/run looks for).
"""

import argparse
import base64
import contextlib
import datetime
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore")  # eventlet/oslo deprecation noise on import

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "lib"))

import confkit  # noqa: E402
from confkit import CheckError, check  # noqa: E402

import msgpack  # noqa: E402
from cryptography import fernet as crypto_fernet  # noqa: E402

import keystone.conf  # noqa: E402
from keystone.common import fernet_utils  # noqa: E402
from keystone.common import utils as ks_utils  # noqa: E402
from keystone.token import provider as ks_provider  # noqa: E402
from keystone.token import token_formatters as tf  # noqa: E402

SUITE = "token-interop"
CONF = keystone.conf.CONF
MAX_ACTIVE_KEYS = 3
ROTATIONS = 4

for _name in ("keystone", "oslo_config", "oslo_log", "stevedore"):
    logging.getLogger(_name).setLevel(logging.ERROR)


# --------------------------------------------------------------------------- keystone setup

def configure_keystone(key_repository, max_active_keys=MAX_ACTIVE_KEYS):
    """Register Keystone's options and point [fernet_tokens] at `key_repository`.

    `[auth] methods` stays at Keystone's default, so the method bitmask is Keystone's."""
    if not hasattr(CONF, "fernet_tokens"):
        keystone.conf.configure()
        CONF(args=[], project="keystone", default_config_files=[], default_config_dirs=[])
    set_key_repository(key_repository, max_active_keys)


def set_key_repository(path, max_active_keys=MAX_ACTIVE_KEYS):
    CONF.set_override("key_repository", path, group="fernet_tokens")
    CONF.set_override("max_active_keys", max_active_keys, group="fernet_tokens")


@contextlib.contextmanager
def key_repository(path, max_active_keys=MAX_ACTIVE_KEYS):
    """Temporarily point Keystone's formatter at another key repository."""
    old_path = CONF.fernet_tokens.key_repository
    old_max = CONF.fernet_tokens.max_active_keys
    set_key_repository(path, max_active_keys)
    try:
        yield
    finally:
        set_key_repository(old_path, old_max)


def new_keystone_repo(parent=None):
    path = tempfile.mkdtemp(prefix="ks-keys-", dir=parent)
    os.chmod(path, 0o700)
    fernet_utils.FernetUtils(path, MAX_ACTIVE_KEYS, "fernet_tokens").initialize_key_repository()
    return path


def keystone_expiry(seconds=3600):
    """An expiry in Keystone's own form: whole seconds, `YYYY-MM-DDTHH:MM:SS.000000Z`."""
    at = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
    return ks_utils.isotime(at + datetime.timedelta(seconds=seconds), subsecond=True)


DECODED_FIELDS = ("user_id", "methods", "audit_ids", "system", "domain_id", "project_id",
                  "trust_id", "federated_group_ids", "identity_provider_id", "protocol_id",
                  "access_token_id", "app_cred_id", "thumbprint", "issued_at", "expires_at")


def keystone_decode(token):
    """Keystone's view of a token: (fields dict, raw msgpack bytes, unpacked payload list)."""
    formatter = tf.TokenFormatter()
    raw = formatter.unpack(token)
    try:
        unpacked = msgpack.unpackb(raw)
    except UnicodeDecodeError:  # as Keystone itself falls back
        unpacked = msgpack.unpackb(raw, raw=True)
    fields = dict(zip(DECODED_FIELDS, formatter.validate_token(token)))
    return fields, raw, unpacked


def keystone_encode_payload(payload_class, fields):
    """The msgpack bytes Keystone itself would put in a token carrying `fields`."""
    payload = payload_class.assemble(
        fields["user_id"], fields["methods"], fields["system"], fields["project_id"],
        fields["domain_id"], fields["expires_at"], fields["audit_ids"], fields["trust_id"],
        fields["federated_group_ids"], fields["identity_provider_id"], fields["protocol_id"],
        fields["access_token_id"], fields["app_cred_id"], fields["thumbprint"])
    return msgpack.packb((payload_class.version,) + payload)


def render(value):
    """A msgpack-unpacked value with bytes shown as hex, for failure messages."""
    if isinstance(value, bytes):
        return "b'" + value.hex() + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render(v) for v in value) + "]"
    return repr(value)


def describe_payload(raw):
    try:
        unpacked = render(msgpack.unpackb(raw))
    except Exception as exc:  # noqa: BLE001
        unpacked = f"<not msgpack: {exc}>"
    return f"{unpacked} (hex {raw.hex()})"


def fernet_timestamp(token):
    return ks_utils.isotime(tf.TokenFormatter.creation_time(token), subsecond=True)


# --------------------------------------------------------------------------- ironstone HTTP

def issue_password_token(env):
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": env["OS_USERNAME"],
            "domain": {"name": env.get("OS_USER_DOMAIN_NAME", "Default")},
            "password": env["OS_PASSWORD"]}}},
        "scope": {"project": {
            "name": env["OS_PROJECT_NAME"],
            "domain": {"name": env.get("OS_PROJECT_DOMAIN_NAME", "Default")}}}}}
    resp = confkit.http("POST", "/auth/tokens", json_body=body, expect=201)
    return subject_and_body(resp)


def subject_and_body(resp):
    token = resp.headers.get("X-Subject-Token")
    check(token, f"{resp.request.method} {resp.url} -> HTTP {resp.status_code} without an "
                 f"X-Subject-Token header; body: {resp.text[:500]}")
    try:
        body = resp.json()["token"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckError(f"{resp.request.method} {resp.url} -> HTTP {resp.status_code}: body has no "
                         f"'token' object: {resp.text[:1000]}") from exc
    return token, body


def validate_with_ironstone(admin_token, subject, expect=200):
    resp = confkit.validate(admin_token, subject, expect=expect, params={"nocatalog": "1"})
    return resp


def dig(body, *path):
    cur = body
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return cur


# --------------------------------------------------------------------------- comparisons

class Mismatch(CheckError):
    pass


def compare(pairs, context):
    """pairs: [(field, keystone_value, ironstone_value)]; raise with every difference."""
    diffs = [f"{field}: keystone={ks!r} ironstone={iron!r}"
             for field, ks, iron in pairs if ks != iron]
    if diffs:
        raise Mismatch(f"{context}: " + "; ".join(diffs))


def body_fields(body):
    return {
        "user_id": dig(body, "user", "id"),
        "project_id": dig(body, "project", "id"),
        "methods": body.get("methods"),
        "expires_at": body.get("expires_at"),
        "issued_at": body.get("issued_at"),
        "audit_ids": body.get("audit_ids"),
        "app_cred_id": dig(body, "application_credential", "id"),
    }


def sorted_or(value):
    """Methods compare as a set: Keystone lists decoded methods by descending bit value
    (e.g. ['token', 'password']), which is not part of the token format."""
    return sorted(value) if isinstance(value, list) else value


# --------------------------------------------------------------------------- the suite

class Suite:
    def __init__(self, steps):
        self.steps = steps
        self.state = {}
        self.cleanup = confkit.Cleanup()
        self.tmp = tempfile.mkdtemp(prefix="token-interop-")
        self.cleanup.add(shutil.rmtree, self.tmp, ignore_errors=True)

    def need(self, *keys):
        missing = [k for k in keys if self.state.get(k) is None]
        if missing:
            raise CheckError(f"prerequisite failed or missing: {', '.join(missing)}")
        return [self.state[k] for k in keys]

    # -- 0: Keystone drives its own API correctly (proves this script's use of it)
    def keystone_self_check(self):
        repo = new_keystone_repo(self.tmp)
        with key_repository(repo):
            for payload_class, extra in ((tf.ProjectScopedPayload, {}),
                                         (tf.ApplicationCredentialScopedPayload,
                                          {"app_cred_id": "0123456789abcdef0123456789abcdef"})):
                expires = keystone_expiry()
                audit = [ks_provider.random_urlsafe_str()]
                methods = ["application_credential"] if extra else ["password"]
                token = tf.TokenFormatter().create_token(
                    "a" * 32, expires, audit, payload_class, methods=methods,
                    project_id="b" * 32, **extra)
                fields, _, unpacked = keystone_decode(token)
                compare([("version", payload_class.version, unpacked[0]),
                         ("user_id", "a" * 32, fields["user_id"]),
                         ("project_id", "b" * 32, fields["project_id"]),
                         ("methods", methods, fields["methods"]),
                         ("expires_at", expires, fields["expires_at"]),
                         ("audit_ids", audit, fields["audit_ids"]),
                         ("app_cred_id", extra.get("app_cred_id"), fields["app_cred_id"])],
                        f"keystone round trip of a v{payload_class.version} token")

    # -- 1
    def issue_project_token(self):
        env = confkit.auth_env()
        token, body = issue_password_token(env)
        for field in ("user_id", "project_id", "methods", "expires_at", "issued_at", "audit_ids"):
            check(body_fields(body)[field] is not None,
                  f"token body lacks {field}: {confkit._clip(str(body))}")
        self.state.update(admin_token=token, admin_body=body,
                          admin_user_id=body["user"]["id"], admin_project_id=body["project"]["id"])

    # -- 2
    def decode_ironstone_token(self, token_key, body_key, payload_class, label):
        token, body = self.need(token_key, body_key)
        try:
            fields, raw, unpacked = keystone_decode(token)
        except Exception as exc:
            raise CheckError(f"keystone cannot decode Ironstone's {label} token "
                             f"({type(exc).__name__}: {exc}); token {token}") from exc
        self.state[f"{token_key}_raw"] = raw
        self.state[f"{token_key}_fields"] = fields
        expected = body_fields(body)
        pairs = [
            ("payload version", payload_class.version, unpacked[0] if unpacked else None),
            ("user_id", fields["user_id"], expected["user_id"]),
            ("project_id", fields["project_id"], expected["project_id"]),
            ("methods", sorted_or(fields["methods"]), sorted_or(expected["methods"])),
            ("expires_at", fields["expires_at"], expected["expires_at"]),
            ("issued_at (fernet timestamp)", fields["issued_at"], expected["issued_at"]),
            ("audit_ids", fields["audit_ids"], expected["audit_ids"]),
        ]
        if payload_class is tf.ApplicationCredentialScopedPayload:
            pairs.append(("app_cred_id", fields["app_cred_id"], expected["app_cred_id"]))
            pairs.append(("app_cred_id vs created credential", fields["app_cred_id"],
                          self.state.get("app_cred_id")))
        try:
            compare(pairs, f"Keystone's decoding vs Ironstone's token body ({label})")
        except Mismatch as exc:
            raise Mismatch(f"{exc}; raw payload: {describe_payload(raw)}") from exc

    # -- 2b: byte-level equality with what Keystone would have encoded
    def payload_bytes_identical(self, token_key, payload_class):
        raw, fields = self.need(f"{token_key}_raw", f"{token_key}_fields")
        mine = keystone_encode_payload(payload_class, fields)
        if mine != raw:
            raise Mismatch(f"msgpack payload differs: ironstone={describe_payload(raw)} "
                           f"keystone={describe_payload(mine)}")

    # -- 3
    def ironstone_validates_keystone_token(self, payload_class, methods, label, app_cred_id=None):
        admin_token, user_id, project_id = self.need("admin_token", "admin_user_id",
                                                     "admin_project_id")
        if payload_class is tf.ApplicationCredentialScopedPayload:
            (app_cred_id,) = self.need("app_cred_id")
        expires = keystone_expiry()
        audit = [ks_provider.random_urlsafe_str()]
        token = tf.TokenFormatter().create_token(
            user_id, expires, audit, payload_class, methods=methods, project_id=project_id,
            app_cred_id=app_cred_id)
        raw = tf.TokenFormatter().unpack(token)
        resp = validate_with_ironstone(admin_token, token, expect=None)
        if resp.status_code != 200:
            raise CheckError(f"GET /v3/auth/tokens for Keystone's {label} token -> HTTP "
                             f"{resp.status_code} (expected 200): {confkit._clip(resp.text)}; "
                             f"keystone payload: {describe_payload(raw)}")
        _, body = subject_and_body(resp)
        got = body_fields(body)
        pairs = [
            ("user.id", user_id, got["user_id"]),
            ("project.id", project_id, got["project_id"]),
            ("methods", sorted(methods), sorted_or(got["methods"])),
            ("expires_at", expires, got["expires_at"]),
            ("issued_at (fernet timestamp)", fernet_timestamp(token), got["issued_at"]),
            ("audit_ids", audit, got["audit_ids"]),
        ]
        if app_cred_id is not None:
            pairs.append(("application_credential.id", app_cred_id, got["app_cred_id"]))
        subject = resp.headers.get("X-Subject-Token")
        pairs.append(("X-Subject-Token header", token, subject))
        try:
            compare(pairs, f"what Keystone encoded vs Ironstone's validation body ({label})")
        except Mismatch as exc:
            raise Mismatch(f"{exc}; keystone payload: {describe_payload(raw)}") from exc

    # -- 4
    def create_application_credential(self):
        admin_token, user_id = self.need("admin_token", "admin_user_id")
        name = confkit.rand_name("interop")
        resp = confkit.http("POST", f"/users/{user_id}/application_credentials", token=admin_token,
                            json_body={"application_credential": {"name": name}}, expect=201)
        cred = resp.json().get("application_credential") or {}
        check(cred.get("id") and cred.get("secret"),
              f"create response lacks id/secret: {confkit._clip(resp.text)}")
        self.cleanup.add(confkit.http, "DELETE",
                         f"/users/{user_id}/application_credentials/{cred['id']}",
                         token=admin_token)
        self.state.update(app_cred_id=cred["id"], app_cred_secret=cred["secret"])

    def issue_app_cred_token(self):
        cred_id, secret = self.need("app_cred_id", "app_cred_secret")
        body = {"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": cred_id, "secret": secret}}}}
        resp = confkit.http("POST", "/auth/tokens", json_body=body, expect=201)
        token, tbody = subject_and_body(resp)
        self.state.update(app_token=token, app_body=tbody)

    # -- 5
    def foreign_key_refused(self):
        admin_token, user_id, project_id = self.need("admin_token", "admin_user_id",
                                                     "admin_project_id")
        foreign = new_keystone_repo(self.tmp)
        with key_repository(foreign):
            token = tf.TokenFormatter().create_token(
                user_id, keystone_expiry(), [ks_provider.random_urlsafe_str()],
                tf.ProjectScopedPayload, methods=["password"], project_id=project_id)
        resp = validate_with_ironstone(admin_token, token, expect=None)
        check(resp.status_code == 404,
              f"GET /v3/auth/tokens with a token from a key outside the repository -> HTTP "
              f"{resp.status_code} (expected 404): {confkit._clip(resp.text)}")

    def tampered_refused(self):
        (admin_token,) = self.need("admin_token")
        # Control: a fresh, untouched token validates, so a 404 below is about the tampering.
        fresh, _ = issue_password_token(confkit.auth_env())
        validate_with_ironstone(admin_token, fresh, expect=200)
        data = bytearray(base64.urlsafe_b64decode(tf.TokenFormatter.restore_padding(fresh)))
        # Fernet: version(1) | timestamp(8) | IV(16) | ciphertext | HMAC(32)
        variants = {}
        for what, index in (("flipped ciphertext bit", 25), ("flipped HMAC bit", len(data) - 1),
                            ("flipped timestamp bit", 8)):
            mutated = bytearray(data)
            mutated[index] ^= 0x01
            variants[what] = base64.urlsafe_b64encode(bytes(mutated)).decode().rstrip("=")
        variants["truncated token"] = fresh[:-4]
        problems = []
        for what, token in variants.items():
            resp = validate_with_ironstone(admin_token, token, expect=None)
            if resp.status_code != 404:
                problems.append(f"{what} -> HTTP {resp.status_code} (expected 404): "
                                f"{confkit._clip(resp.text, 300)}")
        check(not problems, "; ".join(problems))

    # -- 6: offline key layout
    def ironstone_binary(self):
        candidates = [os.environ.get("IRONSTONE_BIN"),
                      os.path.join(REPO_ROOT, "target", "debug", "ironstone"),
                      os.path.join(REPO_ROOT, "target", "release", "ironstone")]
        for path in candidates:
            if path and os.path.isfile(path) and os.access(path, os.X_OK):
                return path
        raise CheckError("the ironstone binary is not built (looked for $IRONSTONE_BIN, "
                         "target/debug/ironstone, target/release/ironstone); "
                         "run `cargo build --bin ironstone`")

    def offline_env(self, repo):
        """The binary's environment for offline runs: never the live server's data, database,
        configuration or keys (the harness exports those for the suites)."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("IRONSTONE_CONFIG", "IRONSTONE_DATABASE_URL",
                            "IRONSTONE_DATABASE_URL_FILE")}
        data = os.path.join(self.tmp, "ironstone-data")
        env.update(IRONSTONE_KEY_REPOSITORY=repo, IRONSTONE_DATA_DIR=data,
                   IRONSTONE_DATABASE_URL=f"sqlite://{data}/unused.db")
        return env

    def run_ironstone_fernet(self, binary, action, repo):
        argv = [binary, "fernet", action]
        proc = subprocess.run(argv, env=self.offline_env(repo), capture_output=True, text=True,
                              timeout=120)
        if proc.returncode != 0:
            raise confkit.CLIFailure(argv + [f"(IRONSTONE_KEY_REPOSITORY={repo})"],
                                     proc.returncode, proc.stdout, proc.stderr)

    @staticmethod
    def key_files(repo):
        return sorted((f for f in os.listdir(repo) if os.path.isfile(os.path.join(repo, f))),
                      key=lambda f: (not f.isdigit(), int(f) if f.isdigit() else 0, f))

    @staticmethod
    def read_keys(repo):
        keys = {}
        for name in Suite.key_files(repo):
            with open(os.path.join(repo, name)) as fh:
                keys[name] = fh.read()
        return keys

    @staticmethod
    def check_ironstone_keys(repo):
        """Every Ironstone key file is a valid Fernet key that Keystone loads, and private."""
        problems = []
        for name, key in Suite.read_keys(repo).items():
            try:
                crypto_fernet.Fernet(key.strip().encode())
            except Exception as exc:  # noqa: BLE001
                problems.append(f"file {name} is not a Fernet key ({exc}): {key[:60]!r}")
            if key != key.strip():
                problems.append(f"file {name} has surrounding whitespace: {key!r}")
            mode = os.stat(os.path.join(repo, name)).st_mode & 0o777
            if mode & 0o077:
                problems.append(f"file {name} has mode {mode:o} (Keystone writes 600)")
        loaded = fernet_utils.FernetUtils(repo, MAX_ACTIVE_KEYS, "fernet_tokens").load_keys()
        if len(loaded) != len(Suite.key_files(repo)):
            problems.append(f"Keystone's FernetUtils loaded {len(loaded)} keys from "
                            f"{Suite.key_files(repo)}")
        check(not problems, "; ".join(problems))

    def key_setup_matches(self):
        binary = self.ironstone_binary()
        ks_repo = tempfile.mkdtemp(prefix="ks-layout-", dir=self.tmp)
        iron_repo = os.path.join(self.tmp, "ironstone-layout")  # let Ironstone create it
        fernet_utils.FernetUtils(ks_repo, MAX_ACTIVE_KEYS, "fernet_tokens") \
            .initialize_key_repository()
        self.run_ironstone_fernet(binary, "setup", iron_repo)
        check(os.path.isdir(iron_repo), f"`ironstone fernet setup` did not create {iron_repo}")
        compare([("files after setup", self.key_files(ks_repo), self.key_files(iron_repo))],
                "key repository layout")
        self.check_ironstone_keys(iron_repo)
        self.state.update(binary=binary, ks_layout=ks_repo, iron_layout=iron_repo)

    def key_rotation_matches(self, n):
        binary, ks_repo, iron_repo = self.need("binary", "ks_layout", "iron_layout")
        staged = self.read_keys(iron_repo).get("0")
        before = self.read_keys(iron_repo)
        fernet_utils.FernetUtils(ks_repo, MAX_ACTIVE_KEYS, "fernet_tokens").rotate_keys()
        self.run_ironstone_fernet(binary, "rotate", iron_repo)
        ks_files, iron_files = self.key_files(ks_repo), self.key_files(iron_repo)
        compare([(f"files after rotation {n}", ks_files, iron_files)], "key repository layout")
        after = self.read_keys(iron_repo)
        primary = max(iron_files, key=int)
        problems = []
        if after.get(primary) != staged:
            problems.append(f"the staged key 0 was not promoted to primary {primary} "
                            f"(Keystone renames 0 to max+1)")
        if after.get("0") in before.values():
            problems.append("the new staged key 0 is not a new key")
        for name in iron_files:
            if name not in ("0", primary) and after[name] != before.get(name):
                problems.append(f"secondary key {name} changed content during rotation")
        check(not problems, "; ".join(problems))
        self.check_ironstone_keys(iron_repo)

    def setup_is_idempotent(self):
        binary, ks_repo, iron_repo = self.need("binary", "ks_layout", "iron_layout")
        before = self.read_keys(iron_repo)
        fernet_utils.FernetUtils(ks_repo, MAX_ACTIVE_KEYS, "fernet_tokens") \
            .initialize_key_repository()
        ks_files = self.key_files(ks_repo)
        subprocess.run([binary, "fernet", "setup"], env=self.offline_env(iron_repo),
                       capture_output=True, timeout=120)
        after = self.read_keys(iron_repo)
        check(after == before and sorted(after) == sorted(ks_files),
              f"`ironstone fernet setup` on an initialized repository changed it: files "
              f"{sorted(before)} -> {sorted(after)} (Keystone keeps {ks_files}), "
              f"contents {'unchanged' if after == before else 'changed'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offline", action="store_true",
                        help="run only the checks that need no server")
    parser.add_argument("--suite", default=SUITE,
                        help="name in the PASS/FAIL lines (conformance/run expects the suite "
                             "file's name, which suites/40-token-interop passes)")
    args = parser.parse_args(argv)

    steps = confkit.Steps(args.suite)
    suite = Suite(steps)
    run = steps.run
    try:
        repo = os.environ.get("IRONSTONE_KEY_REPOSITORY")
        configure_keystone(repo or os.path.join(suite.tmp, "no-repository"))
        run("keystone formatter self-check (v2 and v9 round trip)", suite.keystone_self_check)

        if not args.offline:
            if not repo:
                steps.fail("key repository", CheckError("IRONSTONE_KEY_REPOSITORY is not set"))
            elif not os.path.isdir(repo):
                steps.fail("key repository",
                           CheckError(f"IRONSTONE_KEY_REPOSITORY={repo} is not a directory"))
            run("1 ironstone issues a project-scoped password token", suite.issue_project_token)
            run("2 keystone decodes ironstone's project token (v2)",
                suite.decode_ironstone_token, "admin_token", "admin_body",
                tf.ProjectScopedPayload, "project-scoped")
            run("2 ironstone's v2 payload is byte-identical to keystone's encoding",
                suite.payload_bytes_identical, "admin_token", tf.ProjectScopedPayload)
            run("3 ironstone validates keystone's project token (v2)",
                suite.ironstone_validates_keystone_token, tf.ProjectScopedPayload,
                ["password"], "project-scoped")
            run("3 ironstone validates keystone's password+token project token (method mask 6)",
                suite.ironstone_validates_keystone_token, tf.ProjectScopedPayload,
                ["password", "token"], "password+token project-scoped")
            run("4 ironstone creates an application credential",
                suite.create_application_credential)
            run("4 ironstone issues an application-credential token",
                suite.issue_app_cred_token)
            run("4 keystone decodes ironstone's application-credential token (v9)",
                suite.decode_ironstone_token, "app_token", "app_body",
                tf.ApplicationCredentialScopedPayload, "application-credential")
            run("4 ironstone's v9 payload is byte-identical to keystone's encoding",
                suite.payload_bytes_identical, "app_token", tf.ApplicationCredentialScopedPayload)
            run("4 ironstone validates keystone's application-credential token (v9)",
                suite.ironstone_validates_keystone_token, tf.ApplicationCredentialScopedPayload,
                ["application_credential"], "application-credential")
            run("5 token encrypted with a key outside the repository is refused (404)",
                suite.foreign_key_refused)
            run("5 tampered tokens are refused (404)", suite.tampered_refused)

        if os.environ.get("IRONSTONE_TARGET", "ironstone") == "keystone":
            # conformance/run against the reference Keystone: steps 1-5 are then a control of
            # this suite's expectations; step 6 is about Ironstone's binary only.
            steps.skip("6 ironstone fernet setup/rotate vs keystone's key layout",
                       "IRONSTONE_TARGET=keystone: about Ironstone's binary only")
        else:
            run("6 `ironstone fernet setup` makes keystone's key layout",
                suite.key_setup_matches)
            for n in range(1, ROTATIONS + 1):
                run(f"6 `ironstone fernet rotate` #{n} matches keystone's rotation",
                    suite.key_rotation_matches, n)
            run("6 `ironstone fernet setup` leaves an initialized repository alone",
                suite.setup_is_idempotent)
    finally:
        suite.cleanup.run()
    return steps.finish()


if __name__ == "__main__":
    sys.exit(main())
