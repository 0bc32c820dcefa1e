#!/usr/bin/env python3
"""Write a tempest workspace (etc/tempest.conf, .stestr.conf) for the identity-only cloud the
conformance harness started, from tempest.conf.in beside this file and the OS_* environment.

    make_conf.py WORKSPACE_DIR

The [security_compliance] table of the server's TOML config file (IRONSTONE_SERVER_CONFIG, set by
conformance/run; Keystone's option names) gives tempest's security-compliance options; without
the file, security_compliance = false.

Used by conformance/suites/50-tempest; runnable by hand to debug against any Keystone."""

import os
import re
import sys
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "tempest.conf.in")
FIELDS = ("OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME",
          "OS_USER_DOMAIN_NAME", "OS_PROJECT_DOMAIN_NAME", "OS_REGION_NAME")
DEFAULTS = {"OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_REGION_NAME": "RegionOne"}

# tempest's own discovery layout (what `tempest init` writes); the plugin is found through its
# entry point, so one test_path covers tempest and keystone_tempest_plugin.
STESTR_CONF = """[DEFAULT]
test_path={test_path}
top_dir={top_dir}
group_regex=([^\\.]*\\.)*
"""


def security_compliance(env):
    """tempest.conf values from the server's [security_compliance] settings (Keystone's names:
    unset lockout options mean no lockout, which tempest spells 0)."""
    path = env.get("IRONSTONE_SERVER_CONFIG")
    table = None
    if path:
        try:
            with open(path, "rb") as f:
                table = tomllib.load(f).get("security_compliance")
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SystemExit(f"make_conf.py: IRONSTONE_SERVER_CONFIG={path}: {exc}")
    table = table or {}

    def num(key):
        val = table.get(key) or 0
        if not isinstance(val, int) or isinstance(val, bool) or val < 0:
            raise SystemExit(f"make_conf.py: [security_compliance] {key} = {val!r} is not a count")
        return str(val)

    return {"SECURITY_COMPLIANCE": "true" if table else "false",
            "USER_LOCKOUT_FAILURE_ATTEMPTS": num("lockout_failure_attempts"),
            "USER_LOCKOUT_DURATION": num("lockout_duration"),
            "USER_UNIQUE_LAST_PASSWORD_COUNT": num("unique_last_password_count"),
            "USER_MINIMUM_PASSWORD_AGE": num("minimum_password_age")}


def render(workspace, env=None):
    env = os.environ if env is None else env
    values = {}
    for key in FIELDS:
        val = env.get(key) or DEFAULTS.get(key)
        if not val:
            raise SystemExit(f"make_conf.py: {key} is not set")
        if "\n" in val:
            raise SystemExit(f"make_conf.py: {key} contains a newline")
        values[key] = val
    values["OS_AUTH_URL"] = values["OS_AUTH_URL"].rstrip("/")
    if not values["OS_AUTH_URL"].endswith("/v3"):
        values["OS_AUTH_URL"] += "/v3"
    values["WORKSPACE"] = workspace
    values.update(security_compliance(env))
    with open(TEMPLATE) as f:
        text = f.read()
    for key, val in values.items():
        # oslo.config interpolates $name: escape dollars in secrets.
        text = text.replace(f"@{key}@", val.replace("$", "$$"))
    leftover = re.findall(r"@[A-Z_]+@", text)
    if leftover:
        raise SystemExit(f"make_conf.py: unfilled template fields {leftover}")
    return text


def write_workspace(workspace, env=None):
    workspace = os.path.abspath(workspace)
    for sub in ("etc", "logs", "lock"):
        os.makedirs(os.path.join(workspace, sub), exist_ok=True)
    conf = os.path.join(workspace, "etc", "tempest.conf")
    with open(conf, "w") as f:
        f.write(render(workspace, env))
    os.chmod(conf, 0o600)
    import tempest  # noqa: PLC0415 - only needed here, from the conformance venv
    top_dir = os.path.dirname(os.path.dirname(os.path.abspath(tempest.__file__)))
    test_path = os.path.join(top_dir, "tempest", "test_discover")
    with open(os.path.join(workspace, ".stestr.conf"), "w") as f:
        f.write(STESTR_CONF.format(test_path=test_path, top_dir=top_dir))
    return conf


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(write_workspace(sys.argv[1]))
