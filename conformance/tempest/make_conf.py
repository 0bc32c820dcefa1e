#!/usr/bin/env python3
"""Write a tempest workspace (etc/tempest.conf, .stestr.conf) for the identity-only cloud the
conformance harness started, from tempest.conf.in beside this file and the OS_* environment.

    make_conf.py WORKSPACE_DIR

Used by conformance/suites/50-tempest; runnable by hand to debug against any Keystone."""

import os
import re
import sys

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
