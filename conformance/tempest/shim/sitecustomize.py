"""Loaded by every Python process of the 50-tempest run (the suite puts this directory on
PYTHONPATH of `tempest run` and so of its stestr workers); inert unless
IRONSTONE_TEMPEST_SYSTEM_READER=project.

Why: eleven tempest identity admin test classes (test_users, test_projects, test_roles,
test_domains, test_groups, ...) declare `credentials = ['primary', 'admin', 'system_reader']`,
and tempest authenticates every declared credential in setUpClass. The system_reader client is
used only when `[identity] use_system_token = true`; with the `false` the suite configures, its
only effect is a system-scoped token request, which Ironstone refuses by design (project-scoped
tokens only), so the whole class would fail before any test runs.

With IRONSTONE_TEMPEST_SYSTEM_READER=project, tempest's dynamic credential provider hands out a
project-scoped reader (a fresh project and user with the `reader` role) where a system reader was
asked for. The tests themselves are unchanged: none of them calls the API through that credential
while use_system_token is false. Nothing else in tempest is touched.
"""

import importlib.abc
import importlib.machinery
import os
import sys

_TARGET = "tempest.lib.common.dynamic_creds"


def _patch(module):
    provider = module.DynamicCredentialProvider

    def get_system_reader_creds(self):
        return self.get_credentials(["reader"], scope="project")

    get_system_reader_creds.__doc__ = "Ironstone conformance: project-scoped reader (see sitecustomize)."
    provider.get_system_reader_creds = get_system_reader_creds

    # Tempest's dynamic `admin` is a new user with `admin` on a new project. In Ironstone (as in
    # PRODUCT.md) the cloud administrator is `admin` on the bootstrap admin project only: `admin`
    # elsewhere administers that project's domain, not the cloud. So the admin tests run as the
    # configured cloud admin, as a deployment's operator would; tempest still creates and cleans up
    # every other credential dynamically.
    from tempest.lib.common import cred_provider

    def get_admin_creds(self):
        return cred_provider.TestResources(self.default_admin_creds)

    get_admin_creds.__doc__ = "Ironstone conformance: the configured cloud admin (see sitecustomize)."
    provider.get_admin_creds = get_admin_creds


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != _TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            _patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec


if os.environ.get("IRONSTONE_TEMPEST_SYSTEM_READER") == "project":
    if _TARGET in sys.modules:
        _patch(sys.modules[_TARGET])
    else:
        sys.meta_path.insert(0, _PatchAfterImport())
