"""Loaded by every Python process of the 50-tempest run (the suite puts this directory on
PYTHONPATH of `tempest run` and so of its stestr workers); inert unless
IRONSTONE_TEMPEST_SYSTEM_READER=project or IRONSTONE_TEMPEST_DEFAULT_PROJECT=1.

Why: eleven tempest identity admin test classes (test_users, test_projects, test_roles,
test_domains, test_groups, ...) declare `credentials = ['primary', 'admin', 'system_reader']`,
and tempest authenticates every declared credential in setUpClass. The system_reader client is
used only when `[identity] use_system_token = true`; with the `false` the suite configures, its
only effect is a system-scoped token request, which Ironstone refuses by design (project-scoped
tokens only), so the whole class would fail before any test runs.

With IRONSTONE_TEMPEST_SYSTEM_READER=project, tempest's dynamic credential provider hands out a
project-scoped reader (a fresh project and user with the `reader` role) where a system reader was
asked for. The tests themselves are unchanged: none of them calls the API through that credential
while use_system_token is false.

With IRONSTONE_TEMPEST_DEFAULT_PROJECT=1, the users tempest creates for its project-scoped
dynamic credentials get their project as `default_project_id` (an admin PATCH right after tempest
created the user and granted its roles; tempest 47 creates them without one). Tests that log in with only a user id and a password
(tempest.api.identity.v3.test_users: self-service password change, password history, lockout;
test_password_history_not_enforced_in_admin_reset; tempest.api.identity.v3.test_tokens) then get a token for that project, as from
Keystone for any user with a default project, instead of Ironstone's 401 for a request without
a scope from a user without one (Ironstone issues project-scoped tokens only, by design). The
tests only check that the login succeeds or fails, so they test the same thing.

Nothing else in tempest is touched.
"""

import importlib.abc
import importlib.machinery
import os
import sys

_TARGET = "tempest.lib.common.dynamic_creds"


def _patch(module):
    provider = module.DynamicCredentialProvider
    if os.environ.get("IRONSTONE_TEMPEST_DEFAULT_PROJECT") == "1":
        create_creds = provider._create_creds

        def _create_creds(self, *args, **kwargs):
            resources = create_creds(self, *args, **kwargs)
            user_id = getattr(resources, "user_id", None)
            project_id = getattr(resources, "project_id", None)
            if user_id and project_id:
                self.creds_client.users_client.update_user(user_id,
                                                           default_project_id=project_id)
            return resources

        _create_creds.__doc__ = "Ironstone conformance: + default_project_id (see sitecustomize)."
        provider._create_creds = _create_creds
    if os.environ.get("IRONSTONE_TEMPEST_SYSTEM_READER") != "project":
        return

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


if (os.environ.get("IRONSTONE_TEMPEST_SYSTEM_READER") == "project"
        or os.environ.get("IRONSTONE_TEMPEST_DEFAULT_PROJECT") == "1"):
    if _TARGET in sys.modules:
        _patch(sys.modules[_TARGET])
    else:
        sys.meta_path.insert(0, _PatchAfterImport())
