// Command gophercloud-conformance drives a live Keystone v3 (Ironstone or the reference
// Keystone) through gophercloud the way the Terraform OpenStack provider does: it
// authenticates from OS_* variables, finds the identity endpoint in the catalog, and
// creates, reads, lists, updates and deletes projects, users, roles, role assignments,
// groups and application credentials, then authenticates with application credentials and
// revokes a token. Everything it creates carries a random suffix and is deleted at the end.
//
// Built offline in GOPATH mode against Debian's gophercloud 0.12.0; see
// conformance/suites/30-gophercloud. Set IRONSTONE_CONFORMANCE_VERBOSE=1 for detail on stderr.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud"
	"github.com/gophercloud/gophercloud/openstack"
	"github.com/gophercloud/gophercloud/openstack/identity/v3/applicationcredentials"
	"github.com/gophercloud/gophercloud/openstack/identity/v3/groups"
	"github.com/gophercloud/gophercloud/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/openstack/identity/v3/users"
)

type settings struct {
	authURL, username, password, projectName, userDomain, projectDomain, region string
}

func settingsFromEnv() (settings, error) {
	s := settings{
		authURL:       os.Getenv("OS_AUTH_URL"),
		username:      os.Getenv("OS_USERNAME"),
		password:      os.Getenv("OS_PASSWORD"),
		projectName:   os.Getenv("OS_PROJECT_NAME"),
		userDomain:    os.Getenv("OS_USER_DOMAIN_NAME"),
		projectDomain: os.Getenv("OS_PROJECT_DOMAIN_NAME"),
		region:        os.Getenv("OS_REGION_NAME"),
	}
	if s.userDomain == "" {
		s.userDomain = "Default"
	}
	if s.projectDomain == "" {
		s.projectDomain = "Default"
	}
	if s.region == "" {
		s.region = "RegionOne"
	}
	var missing []string
	for name, v := range map[string]string{"OS_AUTH_URL": s.authURL, "OS_USERNAME": s.username,
		"OS_PASSWORD": s.password, "OS_PROJECT_NAME": s.projectName} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return s, fmt.Errorf("missing environment: %s", strings.Join(missing, ", "))
	}
	return s, nil
}

// cleanupItem is something this run created and must delete before it exits.
type cleanupItem struct {
	key string
	del func() error
}

type run struct {
	r   *report
	env settings
	sfx string

	admin *gophercloud.ProviderClient
	id    *gophercloud.ServiceClient // admin's identity client, from the catalog

	adminUserID, adminProjectID, domainID string
	memberRoleID                          string

	projectID, projectName string
	userID, userName       string
	userPassword           string
	roleID, roleName       string
	groupID, groupName     string
	asUser                 *gophercloud.ServiceClient // the new user's own identity client
	assignedMember         bool
	assignedRole           bool
	acAllID, acAllSecret   string
	acAllName              string
	acRoleID, acRoleSecret string

	owned []cleanupItem
}

func (x *run) own(key string, del func() error) {
	x.owned = append(x.owned, cleanupItem{key, del})
}

func (x *run) disown(key string) {
	for i, c := range x.owned {
		if c.key == key {
			x.owned = append(x.owned[:i], x.owned[i+1:]...)
			return
		}
	}
}

func main() {
	r := &report{verbose: os.Getenv("IRONSTONE_CONFORMANCE_VERBOSE") == "1"}
	if os.Getenv("OS_APPLICATION_CREDENTIAL_ID") != "" {
		applicationCredentialOnly(r)
		os.Exit(r.summary())
	}
	env, err := settingsFromEnv()
	if err != nil {
		r.fail("read OS_* environment", err)
		os.Exit(r.summary())
	}
	x := &run{r: r, env: env, sfx: randomHex(4)}
	x.all()
	os.Exit(r.summary())
}

func (x *run) all() {
	defer x.cleanup()
	if !x.authenticate() {
		return
	}
	x.versionDiscovery()
	if !x.identityEndpoint() {
		return
	}
	x.tokenGet()
	x.projects()
	x.usersCreate()
	x.roles()
	x.assign()
	x.usersUpdate()
	x.groups()
	x.applicationCredentials()
	x.tokenRevoke()
	x.unassign()
	x.deletes()
}

// ---------------------------------------------------------------- authentication

// passwordOptions are the AuthOptions the Terraform provider builds from its
// user_name / password / user_domain_name / tenant_name / project_domain_name settings.
func (x *run) passwordOptions() gophercloud.AuthOptions {
	return gophercloud.AuthOptions{
		IdentityEndpoint: x.env.authURL,
		Username:         x.env.username,
		Password:         x.env.password,
		DomainName:       x.env.userDomain,
		Scope: &gophercloud.AuthScope{
			ProjectName: x.env.projectName,
			DomainName:  x.env.projectDomain,
		},
		AllowReauth: true,
	}
}

func (x *run) authenticate() bool {
	return x.r.step("authenticate (password, project-scoped, AuthenticatedClient)", func() error {
		p, err := openstack.AuthenticatedClient(x.passwordOptions())
		if err != nil {
			return err
		}
		if p.Token() == "" {
			return fmt.Errorf("no token on the provider client after authentication")
		}
		res, ok := p.GetAuthResult().(tokens.CreateResult)
		if !ok {
			return fmt.Errorf("auth result is %T, want tokens.CreateResult", p.GetAuthResult())
		}
		user, err := res.ExtractUser()
		if err != nil {
			return wrap("extract user", err)
		}
		project, err := res.ExtractProject()
		if err != nil {
			return wrap("extract project", err)
		}
		if project == nil || project.ID == "" {
			return fmt.Errorf("token is not project-scoped (no project in token body)")
		}
		if project.Name != x.env.projectName {
			return fmt.Errorf("token project name %q, want %q", project.Name, x.env.projectName)
		}
		x.admin = p
		x.adminUserID = user.ID
		x.adminProjectID = project.ID
		x.domainID = user.Domain.ID
		if x.domainID == "" {
			return fmt.Errorf("token user has no domain id: %+v", user)
		}
		x.r.logf("admin user %s project %s domain %s", user.ID, project.ID, x.domainID)
		return nil
	})
}

// versionDiscovery authenticates with the auth URL stripped of /v3, which makes
// gophercloud GET the root and choose v3 from the version list (users often configure
// Terraform's auth_url that way).
func (x *run) versionDiscovery() {
	x.r.step("authenticate with an unversioned auth URL (version discovery)", func() error {
		u, err := url.Parse(x.env.authURL)
		if err != nil {
			return err
		}
		path := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/v3")
		u.Path = path + "/"
		opts := x.passwordOptions()
		opts.IdentityEndpoint = u.String()
		opts.AllowReauth = false
		p, err := openstack.AuthenticatedClient(opts)
		if err != nil {
			return wrap("auth at "+u.String(), err)
		}
		if p.Token() == "" {
			return fmt.Errorf("no token after authenticating at %s", u.String())
		}
		return nil
	})
}

func (x *run) identityEndpoint() bool {
	name := fmt.Sprintf("identity endpoint from the catalog (NewIdentityV3, region %s, public)", x.env.region)
	return x.r.step(name, func() error {
		c, err := openstack.NewIdentityV3(x.admin, gophercloud.EndpointOpts{
			Region:       x.env.region,
			Availability: gophercloud.AvailabilityPublic,
		})
		if err != nil {
			return wrap("NewIdentityV3", err)
		}
		if !strings.HasSuffix(c.Endpoint, "/v3/") {
			return fmt.Errorf("identity endpoint %q does not end in /v3/", c.Endpoint)
		}
		x.r.logf("identity endpoint %s", c.Endpoint)
		x.id = c
		return nil
	})
}

// ---------------------------------------------------------------- tokens

func (x *run) tokenGet() {
	x.r.step("token get (tokens.Get of the current token: user, project, roles, catalog)", func() error {
		res := tokens.Get(x.id, x.admin.Token())
		if res.Err != nil {
			return res.Err
		}
		tok, err := res.ExtractToken()
		if err != nil {
			return wrap("extract token", err)
		}
		if !tok.ExpiresAt.After(time.Now()) {
			return fmt.Errorf("token expires_at %v is not in the future", tok.ExpiresAt)
		}
		if subj := res.Header.Get("X-Subject-Token"); subj != "" && subj != x.admin.Token() {
			return fmt.Errorf("X-Subject-Token %q is not the token asked about", subj)
		}
		user, err := res.ExtractUser()
		if err != nil {
			return wrap("extract user", err)
		}
		if user.ID != x.adminUserID || user.Name != x.env.username {
			return fmt.Errorf("token user %+v, want id %s name %s", user, x.adminUserID, x.env.username)
		}
		project, err := res.ExtractProject()
		if err != nil {
			return wrap("extract project", err)
		}
		if project == nil || project.ID != x.adminProjectID || project.Name != x.env.projectName {
			return fmt.Errorf("token project %+v, want id %s name %s", project, x.adminProjectID, x.env.projectName)
		}
		if project.Domain.ID == "" && project.Domain.Name == "" {
			return fmt.Errorf("token project has no domain: %+v", project)
		}
		rs, err := res.ExtractRoles()
		if err != nil {
			return wrap("extract roles", err)
		}
		if !hasTokenRole(rs, "admin") {
			return fmt.Errorf("token roles %v lack admin", tokenRoleNames(rs))
		}
		cat, err := res.ExtractServiceCatalog()
		if err != nil {
			return wrap("extract catalog", err)
		}
		for _, e := range cat.Entries {
			if e.Type != "identity" {
				continue
			}
			for _, ep := range e.Endpoints {
				if ep.Interface == "public" && (ep.Region == x.env.region || ep.RegionID == x.env.region) && ep.URL != "" {
					return nil
				}
			}
			return fmt.Errorf("identity service in catalog has no public endpoint in %s: %+v", x.env.region, e.Endpoints)
		}
		return fmt.Errorf("no identity service in the token's catalog (%d entries)", len(cat.Entries))
	})
	x.r.step("token validate (tokens.Validate of the current token is true)", func() error {
		ok, err := tokens.Validate(x.id, x.admin.Token())
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("Validate returned false for the token in use")
		}
		return nil
	})
}

// tokenRevoke revokes a fresh token of the new user, as the admin, then checks that
// HEAD says it is gone and GET answers 404.
func (x *run) tokenRevoke() {
	name := "token revoke (tokens.Revoke, then Validate false and Get 404)"
	if x.userID == "" || !x.assignedMember {
		x.r.skip(name, "needs the user with a role on the project")
		return
	}
	x.r.step(name, func() error {
		p, err := x.userClient(x.userName, x.userPassword)
		if err != nil {
			return wrap("authenticate as the new user", err)
		}
		tok := p.Token()
		if ok, err := tokens.Validate(x.id, tok); err != nil || !ok {
			return fmt.Errorf("fresh token does not validate before revocation: ok=%v err=%s", ok, errText(err))
		}
		if res := tokens.Revoke(x.id, tok); res.Err != nil {
			return wrap("revoke", res.Err)
		}
		ok, err := tokens.Validate(x.id, tok)
		if err != nil {
			return wrap("validate after revoke", err)
		}
		if ok {
			return fmt.Errorf("Validate still says true after Revoke")
		}
		res := tokens.Get(x.id, tok)
		if res.Err == nil {
			return fmt.Errorf("tokens.Get of the revoked token succeeded")
		}
		if httpStatus(res.Err) != 404 {
			return wrap("tokens.Get of the revoked token should fail with 404", res.Err)
		}
		return nil
	})
}

// ---------------------------------------------------------------- projects

func (x *run) projects() {
	x.projectName = "gc-project-" + x.sfx
	if !x.r.step("projects create", func() error {
		enabled := true
		p, err := projects.Create(x.id, projects.CreateOpts{
			Name:        x.projectName,
			Description: "gophercloud conformance",
			DomainID:    x.domainID,
			Enabled:     &enabled,
		}).Extract()
		if err != nil {
			return err
		}
		if p.ID == "" {
			return fmt.Errorf("created project has no id")
		}
		x.projectID = p.ID
		x.own("project", func() error { return projects.Delete(x.id, p.ID).ExtractErr() })
		if p.Name != x.projectName || p.DomainID != x.domainID || !p.Enabled || p.Description != "gophercloud conformance" {
			return fmt.Errorf("created project differs from the request: %+v", *p)
		}
		return nil
	}) {
		return
	}
	x.r.step("projects get", func() error {
		p, err := projects.Get(x.id, x.projectID).Extract()
		if err != nil {
			return err
		}
		if p.ID != x.projectID || p.Name != x.projectName || p.DomainID != x.domainID || p.IsDomain {
			return fmt.Errorf("got %+v", *p)
		}
		return nil
	})
	x.r.step("projects list (name filter)", func() error {
		pages, err := projects.List(x.id, projects.ListOpts{Name: x.projectName}).AllPages()
		if err != nil {
			return err
		}
		ps, err := projects.ExtractProjects(pages)
		if err != nil {
			return wrap("extract", err)
		}
		if len(ps) != 1 || ps[0].ID != x.projectID {
			return fmt.Errorf("list name=%s gave %d projects %v, want only %s", x.projectName, len(ps), projectIDs(ps), x.projectID)
		}
		all, err := projects.List(x.id, nil).AllPages()
		if err != nil {
			return wrap("unfiltered list", err)
		}
		ps, err = projects.ExtractProjects(all)
		if err != nil {
			return wrap("extract unfiltered", err)
		}
		if !containsProject(ps, x.projectID) || !containsProject(ps, x.adminProjectID) {
			return fmt.Errorf("unfiltered list %v lacks the new or the admin project", projectIDs(ps))
		}
		return nil
	})
	x.r.step("projects update (name, description)", func() error {
		newName := x.projectName + "-renamed"
		desc := "gophercloud conformance, updated"
		p, err := projects.Update(x.id, x.projectID, projects.UpdateOpts{Name: newName, Description: &desc}).Extract()
		if err != nil {
			return err
		}
		if p.Name != newName || p.Description != desc {
			return fmt.Errorf("update answered %+v", *p)
		}
		got, err := projects.Get(x.id, x.projectID).Extract()
		if err != nil {
			return wrap("get after update", err)
		}
		if got.Name != newName || got.Description != desc {
			return fmt.Errorf("get after update: %+v", *got)
		}
		x.projectName = newName
		return nil
	})
	x.r.step("projects update (tags)", func() error {
		tags := []string{"gophercloud", "conformance"}
		p, err := projects.Update(x.id, x.projectID, projects.UpdateOpts{Tags: &tags}).Extract()
		if err != nil {
			return err
		}
		if !sameSet(p.Tags, tags) {
			return fmt.Errorf("tags after update %v, want %v", p.Tags, tags)
		}
		pages, err := projects.List(x.id, projects.ListOpts{Tags: "gophercloud,conformance", Name: x.projectName}).AllPages()
		if err != nil {
			return wrap("list tags=...", err)
		}
		ps, err := projects.ExtractProjects(pages)
		if err != nil {
			return wrap("extract", err)
		}
		if len(ps) != 1 || ps[0].ID != x.projectID {
			return fmt.Errorf("list by tags gave %v, want [%s]", projectIDs(ps), x.projectID)
		}
		return nil
	})
}

// ---------------------------------------------------------------- users

func (x *run) usersCreate() {
	if x.projectID == "" {
		x.r.skip("users create", "needs the project")
		return
	}
	x.userName = "gc-user-" + x.sfx
	x.userPassword = "Gc-pw-" + randomHex(5) + "x9"
	email := x.userName + "@example.org"
	if !x.r.step("users create (password, default project, email in Extra)", func() error {
		enabled := true
		u, err := users.Create(x.id, users.CreateOpts{
			Name:             x.userName,
			Password:         x.userPassword,
			DefaultProjectID: x.projectID,
			DomainID:         x.domainID,
			Description:      "gophercloud conformance",
			Enabled:          &enabled,
			Extra:            map[string]interface{}{"email": email},
		}).Extract()
		if err != nil {
			return err
		}
		if u.ID == "" {
			return fmt.Errorf("created user has no id")
		}
		x.userID = u.ID
		x.own("user", func() error { return users.Delete(x.id, u.ID).ExtractErr() })
		if u.Name != x.userName || u.DefaultProjectID != x.projectID || u.DomainID != x.domainID || !u.Enabled {
			return fmt.Errorf("created user differs from the request: %+v", *u)
		}
		if u.Extra["email"] != email {
			return fmt.Errorf("created user's email %v, want %s (extra: %v)", u.Extra["email"], email, u.Extra)
		}
		if _, leaked := u.Extra["password"]; leaked {
			return fmt.Errorf("create response contains the password")
		}
		return nil
	}) {
		return
	}
	x.r.step("users get", func() error {
		u, err := users.Get(x.id, x.userID).Extract()
		if err != nil {
			return err
		}
		if u.ID != x.userID || u.Name != x.userName || u.DefaultProjectID != x.projectID ||
			u.DomainID != x.domainID || u.Description != "gophercloud conformance" {
			return fmt.Errorf("got %+v", *u)
		}
		if u.Extra["email"] != email {
			return fmt.Errorf("email %v, want %s", u.Extra["email"], email)
		}
		return nil
	})
	x.r.step("users list (name and domain filters)", func() error {
		pages, err := users.List(x.id, users.ListOpts{Name: x.userName, DomainID: x.domainID}).AllPages()
		if err != nil {
			return err
		}
		us, err := users.ExtractUsers(pages)
		if err != nil {
			return wrap("extract", err)
		}
		if len(us) != 1 || us[0].ID != x.userID {
			return fmt.Errorf("list name=%s domain_id=%s gave %v, want [%s]", x.userName, x.domainID, userIDs(us), x.userID)
		}
		pages, err = users.List(x.id, users.ListOpts{DomainID: x.domainID}).AllPages()
		if err != nil {
			return wrap("list domain_id only", err)
		}
		us, err = users.ExtractUsers(pages)
		if err != nil {
			return wrap("extract", err)
		}
		if !containsUser(us, x.userID) || !containsUser(us, x.adminUserID) {
			return fmt.Errorf("list domain_id=%s gave %v, lacking the new user or admin", x.domainID, userIDs(us))
		}
		pages, err = users.List(x.id, users.ListOpts{Name: x.userName + "-absent"}).AllPages()
		if err != nil {
			return wrap("list unknown name", err)
		}
		us, err = users.ExtractUsers(pages)
		if err != nil {
			return wrap("extract", err)
		}
		if len(us) != 0 {
			return fmt.Errorf("list of an unknown name gave %v", userIDs(us))
		}
		return nil
	})
}

// userClient authenticates as a (non-admin) user on the new project, as Terraform would
// with that user's credentials and tenant_id.
func (x *run) userClient(name, password string) (*gophercloud.ProviderClient, error) {
	return openstack.AuthenticatedClient(gophercloud.AuthOptions{
		IdentityEndpoint: x.env.authURL,
		Username:         name,
		Password:         password,
		DomainID:         x.domainID,
		Scope:            &gophercloud.AuthScope{ProjectID: x.projectID},
	})
}

func (x *run) usersUpdate() {
	if x.userID == "" || !x.assignedMember {
		x.r.skip("users update (disable, enable, description, email)", "needs the user with a role on the project")
		return
	}
	x.r.step("users update (disable, enable, description, email)", func() error {
		before, err := x.userClient(x.userName, x.userPassword)
		if err != nil {
			return wrap("authenticate before disabling", err)
		}
		f, t := false, true
		u, err := users.Update(x.id, x.userID, users.UpdateOpts{Enabled: &f}).Extract()
		if err != nil {
			return wrap("disable", err)
		}
		if u.Enabled {
			return fmt.Errorf("update enabled=false answered enabled=true")
		}
		// Disabling a user invalidates the tokens it holds.
		if ok, err := tokens.Validate(x.id, before.Token()); err != nil || ok {
			return fmt.Errorf("token issued before disabling: Validate want false, got %v (%s)", ok, errText(err))
		}
		if _, err := x.userClient(x.userName, x.userPassword); err == nil {
			return fmt.Errorf("a disabled user could authenticate")
		} else if httpStatus(err) != 401 {
			return wrap("authenticating a disabled user should fail with 401", err)
		}
		u, err = users.Update(x.id, x.userID, users.UpdateOpts{Enabled: &t}).Extract()
		if err != nil {
			return wrap("enable", err)
		}
		if !u.Enabled {
			return fmt.Errorf("update enabled=true answered enabled=false")
		}
		if _, err := x.userClient(x.userName, x.userPassword); err != nil {
			return wrap("authenticate after re-enabling", err)
		}
		desc := "gophercloud conformance, updated"
		email := "updated-" + x.userName + "@example.org"
		u, err = users.Update(x.id, x.userID, users.UpdateOpts{
			Description: &desc,
			Extra:       map[string]interface{}{"email": email},
		}).Extract()
		if err != nil {
			return wrap("description and email", err)
		}
		if u.Description != desc || u.Extra["email"] != email {
			return fmt.Errorf("update answered description %q email %v", u.Description, u.Extra["email"])
		}
		got, err := users.Get(x.id, x.userID).Extract()
		if err != nil {
			return wrap("get after update", err)
		}
		if got.Description != desc || got.Extra["email"] != email || !got.Enabled || got.Name != x.userName ||
			got.DefaultProjectID != x.projectID {
			return fmt.Errorf("get after update: %+v", *got)
		}
		return nil
	})
}

// ---------------------------------------------------------------- roles

func (x *run) roles() {
	x.r.step("roles list (bootstrap roles admin, member, reader present; name filter)", func() error {
		pages, err := roles.List(x.id, nil).AllPages()
		if err != nil {
			return err
		}
		rs, err := roles.ExtractRoles(pages)
		if err != nil {
			return wrap("extract", err)
		}
		byName := map[string]string{}
		for _, r := range rs {
			byName[r.Name] = r.ID
		}
		for _, want := range []string{"admin", "member", "reader"} {
			if byName[want] == "" {
				return fmt.Errorf("role %q missing from %v", want, roleNames(rs))
			}
		}
		pages, err = roles.List(x.id, roles.ListOpts{Name: "member"}).AllPages()
		if err != nil {
			return wrap("list name=member", err)
		}
		rs, err = roles.ExtractRoles(pages)
		if err != nil {
			return wrap("extract", err)
		}
		if len(rs) != 1 || rs[0].ID != byName["member"] {
			return fmt.Errorf("list name=member gave %v", roleNames(rs))
		}
		x.memberRoleID = rs[0].ID
		return nil
	})
	x.roleName = "gc-role-" + x.sfx
	if !x.r.step("roles create", func() error {
		r, err := roles.Create(x.id, roles.CreateOpts{Name: x.roleName}).Extract()
		if err != nil {
			return err
		}
		if r.ID == "" {
			return fmt.Errorf("created role has no id")
		}
		x.roleID = r.ID
		x.own("role", func() error { return roles.Delete(x.id, r.ID).ExtractErr() })
		if r.Name != x.roleName || r.DomainID != "" {
			return fmt.Errorf("created role %+v", *r)
		}
		return nil
	}) {
		return
	}
	x.r.step("roles get", func() error {
		r, err := roles.Get(x.id, x.roleID).Extract()
		if err != nil {
			return err
		}
		if r.ID != x.roleID || r.Name != x.roleName {
			return fmt.Errorf("got %+v", *r)
		}
		return nil
	})
}

// ---------------------------------------------------------------- role assignments

func (x *run) assign() {
	name := "role assignment: roles.Assign (user on project: member and the new role)"
	if x.userID == "" || x.projectID == "" || x.roleID == "" || x.memberRoleID == "" {
		x.r.skip(name, "needs the user, the project, the member role and the new role")
		return
	}
	if !x.r.step(name, func() error {
		for _, roleID := range []string{x.memberRoleID, x.roleID} {
			rid := roleID
			if err := roles.Assign(x.id, rid, roles.AssignOpts{UserID: x.userID, ProjectID: x.projectID}).ExtractErr(); err != nil {
				return wrap("assign "+rid, err)
			}
			key := "assignment " + rid
			x.own(key, func() error {
				return roles.Unassign(x.id, rid, roles.UnassignOpts{UserID: x.userID, ProjectID: x.projectID}).ExtractErr()
			})
			if rid == x.memberRoleID {
				x.assignedMember = true
			} else {
				x.assignedRole = true
			}
		}
		return nil
	}) {
		return
	}
	x.r.step("role assignment: roles.ListAssignmentsOnResource (user on project)", func() error {
		pages, err := roles.ListAssignmentsOnResource(x.id, roles.ListAssignmentsOnResourceOpts{
			UserID: x.userID, ProjectID: x.projectID}).AllPages()
		if err != nil {
			return err
		}
		rs, err := roles.ExtractRoles(pages)
		if err != nil {
			return wrap("extract", err)
		}
		if !containsRole(rs, x.memberRoleID) || !containsRole(rs, x.roleID) {
			return fmt.Errorf("roles of the user on the project: %v, want member and %s", roleNames(rs), x.roleName)
		}
		return nil
	})
	x.r.step("role assignment: roles.ListAssignments (user, project, effective)", func() error {
		t := true
		for _, eff := range []*bool{nil, &t} {
			pages, err := roles.ListAssignments(x.id, roles.ListAssignmentsOpts{
				UserID: x.userID, ScopeProjectID: x.projectID, Effective: eff}).AllPages()
			if err != nil {
				return wrap(fmt.Sprintf("effective=%v", eff != nil), err)
			}
			as, err := roles.ExtractRoleAssignments(pages)
			if err != nil {
				return wrap("extract", err)
			}
			for _, want := range []string{x.memberRoleID, x.roleID} {
				if !containsAssignment(as, x.userID, x.projectID, want) {
					return fmt.Errorf("effective=%v: assignment of role %s to the user on the project missing from %v",
						eff != nil, want, assignmentStrings(as))
				}
			}
			for _, a := range as {
				if a.User.ID != x.userID || a.Scope.Project.ID != x.projectID {
					return fmt.Errorf("effective=%v: filter user.id/scope.project.id not applied: %v",
						eff != nil, assignmentStrings(as))
				}
			}
		}
		return nil
	})
}

func (x *run) unassign() {
	name := "role assignment: roles.Unassign (the new role), then ListAssignments no longer has it"
	if !x.assignedRole {
		x.r.skip(name, "the role was not assigned")
		return
	}
	x.r.step(name, func() error {
		if err := roles.Unassign(x.id, x.roleID, roles.UnassignOpts{UserID: x.userID, ProjectID: x.projectID}).ExtractErr(); err != nil {
			return err
		}
		x.disown("assignment " + x.roleID)
		t := true
		pages, err := roles.ListAssignments(x.id, roles.ListAssignmentsOpts{
			UserID: x.userID, ScopeProjectID: x.projectID, Effective: &t}).AllPages()
		if err != nil {
			return wrap("list after unassign", err)
		}
		as, err := roles.ExtractRoleAssignments(pages)
		if err != nil {
			return wrap("extract", err)
		}
		if containsAssignment(as, x.userID, x.projectID, x.roleID) {
			return fmt.Errorf("assignment still listed after Unassign: %v", assignmentStrings(as))
		}
		if !containsAssignment(as, x.userID, x.projectID, x.memberRoleID) {
			return fmt.Errorf("Unassign of one role removed the member role too: %v", assignmentStrings(as))
		}
		return nil
	})
}

// ---------------------------------------------------------------- groups

func (x *run) groups() {
	x.groupName = "gc-group-" + x.sfx
	if !x.r.step("groups create", func() error {
		g, err := groups.Create(x.id, groups.CreateOpts{
			Name: x.groupName, Description: "gophercloud conformance", DomainID: x.domainID}).Extract()
		if err != nil {
			return err
		}
		if g.ID == "" {
			return fmt.Errorf("created group has no id")
		}
		x.groupID = g.ID
		x.own("group", func() error { return groups.Delete(x.id, g.ID).ExtractErr() })
		if g.Name != x.groupName || g.DomainID != x.domainID || g.Description != "gophercloud conformance" {
			return fmt.Errorf("created group %+v", *g)
		}
		return nil
	}) {
		return
	}
	x.r.step("groups get", func() error {
		g, err := groups.Get(x.id, x.groupID).Extract()
		if err != nil {
			return err
		}
		if g.ID != x.groupID || g.Name != x.groupName || g.DomainID != x.domainID {
			return fmt.Errorf("got %+v", *g)
		}
		return nil
	})
	x.r.step("groups list (name filter)", func() error {
		pages, err := groups.List(x.id, groups.ListOpts{Name: x.groupName}).AllPages()
		if err != nil {
			return err
		}
		gs, err := groups.ExtractGroups(pages)
		if err != nil {
			return wrap("extract", err)
		}
		if len(gs) != 1 || gs[0].ID != x.groupID {
			return fmt.Errorf("list name=%s gave %d groups, want only %s", x.groupName, len(gs), x.groupID)
		}
		return nil
	})
	x.r.step("groups update (description)", func() error {
		desc := "gophercloud conformance, updated"
		g, err := groups.Update(x.id, x.groupID, groups.UpdateOpts{Description: &desc}).Extract()
		if err != nil {
			return err
		}
		if g.Description != desc || g.Name != x.groupName {
			return fmt.Errorf("update answered %+v", *g)
		}
		return nil
	})
	if x.userID == "" {
		x.r.skip("group membership (AddToGroup, IsMemberOfGroup, ListInGroup, ListGroups, RemoveFromGroup)", "needs the user")
	} else {
		x.groupMembership()
	}
	if x.r.step("groups delete (then get is 404)", func() error {
		if err := groups.Delete(x.id, x.groupID).ExtractErr(); err != nil {
			return err
		}
		x.disown("group")
		if _, err := groups.Get(x.id, x.groupID).Extract(); httpStatus(err) != 404 {
			return fmt.Errorf("get of the deleted group: want 404, got %s", errText(err))
		}
		return nil
	}) {
		x.groupID = ""
	}
}

func (x *run) groupMembership() {
	if !x.r.step("groups: users.AddToGroup", func() error {
		if err := users.AddToGroup(x.id, x.groupID, x.userID).ExtractErr(); err != nil {
			return err
		}
		x.own("membership", func() error { return users.RemoveFromGroup(x.id, x.groupID, x.userID).ExtractErr() })
		return nil
	}) {
		return
	}
	x.r.step("groups: users.IsMemberOfGroup is true", func() error {
		ok, err := users.IsMemberOfGroup(x.id, x.groupID, x.userID).Extract()
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("IsMemberOfGroup false right after AddToGroup")
		}
		return nil
	})
	x.r.step("groups: users.ListInGroup has the user", func() error {
		pages, err := users.ListInGroup(x.id, x.groupID, nil).AllPages()
		if err != nil {
			return err
		}
		us, err := users.ExtractUsers(pages)
		if err != nil {
			return wrap("extract", err)
		}
		if len(us) != 1 || us[0].ID != x.userID {
			return fmt.Errorf("users in group: %v, want [%s]", userIDs(us), x.userID)
		}
		return nil
	})
	x.r.step("groups: users.ListGroups of the user has the group", func() error {
		pages, err := users.ListGroups(x.id, x.userID).AllPages()
		if err != nil {
			return err
		}
		gs, err := groups.ExtractGroups(pages)
		if err != nil {
			return wrap("extract", err)
		}
		for _, g := range gs {
			if g.ID == x.groupID {
				return nil
			}
		}
		return fmt.Errorf("groups of the user lack %s (%d groups)", x.groupID, len(gs))
	})
	if x.roleID != "" && x.projectID != "" {
		x.r.step("groups: a role assigned to the group is effective for its member", func() error {
			if err := roles.Assign(x.id, x.roleID, roles.AssignOpts{GroupID: x.groupID, ProjectID: x.projectID}).ExtractErr(); err != nil {
				return wrap("assign to group", err)
			}
			x.own("group assignment", func() error {
				return roles.Unassign(x.id, x.roleID, roles.UnassignOpts{GroupID: x.groupID, ProjectID: x.projectID}).ExtractErr()
			})
			pages, err := roles.ListAssignments(x.id, roles.ListAssignmentsOpts{
				GroupID: x.groupID, ScopeProjectID: x.projectID}).AllPages()
			if err != nil {
				return wrap("list group.id", err)
			}
			as, err := roles.ExtractRoleAssignments(pages)
			if err != nil {
				return wrap("extract", err)
			}
			found := false
			for _, a := range as {
				found = found || (a.Group.ID == x.groupID && a.Role.ID == x.roleID && a.Scope.Project.ID == x.projectID)
			}
			if !found {
				return fmt.Errorf("group assignment missing from list group.id: %v", assignmentStrings(as))
			}
			t := true
			pages, err = roles.ListAssignments(x.id, roles.ListAssignmentsOpts{
				UserID: x.userID, ScopeProjectID: x.projectID, RoleID: x.roleID, Effective: &t}).AllPages()
			if err != nil {
				return wrap("list user.id effective", err)
			}
			as, err = roles.ExtractRoleAssignments(pages)
			if err != nil {
				return wrap("extract", err)
			}
			// The user holds the role directly and through the group: two effective entries.
			if len(as) != 2 {
				return fmt.Errorf("effective assignments of role %s for the user: %v, want 2 (direct and via group)",
					x.roleID, assignmentStrings(as))
			}
			if err := roles.Unassign(x.id, x.roleID, roles.UnassignOpts{GroupID: x.groupID, ProjectID: x.projectID}).ExtractErr(); err != nil {
				return wrap("unassign from group", err)
			}
			x.disown("group assignment")
			return nil
		})
	}
	x.r.step("groups: users.RemoveFromGroup, then IsMemberOfGroup is false", func() error {
		if err := users.RemoveFromGroup(x.id, x.groupID, x.userID).ExtractErr(); err != nil {
			return err
		}
		x.disown("membership")
		ok, err := users.IsMemberOfGroup(x.id, x.groupID, x.userID).Extract()
		if err != nil {
			return wrap("IsMemberOfGroup", err)
		}
		if ok {
			return fmt.Errorf("IsMemberOfGroup still true after RemoveFromGroup")
		}
		return nil
	})
}

// ---------------------------------------------------------------- application credentials

func (x *run) applicationCredentials() {
	// Authenticate as the user now: disabling the user and removing it from a group, done
	// above, revoke the tokens it held.
	if x.userID == "" || !x.assignedMember {
		x.r.skip("authenticate as the new user (project-scoped)", "needs the user with a role on the project")
		return
	}
	x.r.step("authenticate as the new user (project-scoped)", func() error {
		p, err := x.userClient(x.userName, x.userPassword)
		if err != nil {
			return err
		}
		c, err := openstack.NewIdentityV3(p, gophercloud.EndpointOpts{Region: x.env.region})
		if err != nil {
			return wrap("NewIdentityV3 for the user", err)
		}
		res := p.GetAuthResult().(tokens.CreateResult)
		project, err := res.ExtractProject()
		if err != nil {
			return wrap("extract project", err)
		}
		if project == nil || project.ID != x.projectID {
			return fmt.Errorf("user token project %+v, want %s", project, x.projectID)
		}
		rs, err := res.ExtractRoles()
		if err != nil {
			return wrap("extract roles", err)
		}
		if !hasTokenRole(rs, "member") || !hasTokenRole(rs, x.roleName) {
			return fmt.Errorf("user token roles %v, want member and %s", tokenRoleNames(rs), x.roleName)
		}
		x.asUser = c
		return nil
	})
	first := "application credentials create (by the user itself, all its roles)"
	if x.asUser == nil {
		x.r.skip(first, "needs a token of the new user on its project")
		return
	}
	uc := x.asUser
	x.acAllName = "gc-ac-all-" + x.sfx
	okAll := x.r.step(first, func() error {
		ac, err := applicationcredentials.Create(uc, x.userID, applicationcredentials.CreateOpts{
			Name: x.acAllName, Description: "gophercloud conformance"}).Extract()
		if err != nil {
			return err
		}
		if ac.ID == "" || ac.Secret == "" {
			return fmt.Errorf("create answered id %q secret %q: both must be set", ac.ID, ac.Secret)
		}
		x.acAllID, x.acAllSecret = ac.ID, ac.Secret
		x.own("ac "+ac.ID, func() error { return applicationcredentials.Delete(x.id, x.userID, ac.ID).ExtractErr() })
		if ac.ProjectID != x.projectID || ac.Name != x.acAllName || ac.Unrestricted {
			return fmt.Errorf("created application credential %+v", *ac)
		}
		if !containsACRole(ac.Roles, x.memberRoleID) || !containsACRole(ac.Roles, x.roleID) {
			return fmt.Errorf("application credential roles %+v, want all the user's roles on the project", ac.Roles)
		}
		return nil
	})
	okRole := x.r.step("application credentials create (restricted to one role, with secret and expiry)", func() error {
		expires := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Second)
		secret := "gc-secret-" + randomHex(8)
		ac, err := applicationcredentials.Create(uc, x.userID, applicationcredentials.CreateOpts{
			Name:      "gc-ac-role-" + x.sfx,
			Secret:    secret,
			Roles:     []applicationcredentials.Role{{ID: x.roleID}},
			ExpiresAt: &expires,
		}).Extract()
		if err != nil {
			return err
		}
		if ac.ID == "" {
			return fmt.Errorf("created application credential has no id")
		}
		x.acRoleID, x.acRoleSecret = ac.ID, secret
		x.own("ac "+ac.ID, func() error { return applicationcredentials.Delete(x.id, x.userID, ac.ID).ExtractErr() })
		if ac.Secret != secret {
			return fmt.Errorf("create answered secret %q, want the one given", ac.Secret)
		}
		if len(ac.Roles) != 1 || ac.Roles[0].ID != x.roleID {
			return fmt.Errorf("roles %+v, want only %s", ac.Roles, x.roleID)
		}
		if !ac.ExpiresAt.Equal(expires) {
			return fmt.Errorf("expires_at %v, want %v", ac.ExpiresAt, expires)
		}
		return nil
	})
	if okAll {
		x.r.step("application credentials get (no secret)", func() error {
			ac, err := applicationcredentials.Get(uc, x.userID, x.acAllID).Extract()
			if err != nil {
				return err
			}
			if ac.ID != x.acAllID || ac.Name != x.acAllName || ac.ProjectID != x.projectID {
				return fmt.Errorf("got %+v", *ac)
			}
			if ac.Secret != "" {
				return fmt.Errorf("get shows the secret again")
			}
			return nil
		})
	}
	x.r.step("application credentials list (all, and name filter)", func() error {
		pages, err := applicationcredentials.List(uc, x.userID, nil).AllPages()
		if err != nil {
			return err
		}
		acs, err := applicationcredentials.ExtractApplicationCredentials(pages)
		if err != nil {
			return wrap("extract", err)
		}
		for _, id := range []string{x.acAllID, x.acRoleID} {
			if id != "" && !containsAC(acs, id) {
				return fmt.Errorf("list lacks %s (%d listed)", id, len(acs))
			}
		}
		for _, ac := range acs {
			if ac.Secret != "" {
				return fmt.Errorf("list shows a secret")
			}
		}
		if okAll {
			pages, err = applicationcredentials.List(uc, x.userID, applicationcredentials.ListOpts{Name: x.acAllName}).AllPages()
			if err != nil {
				return wrap("list name=", err)
			}
			acs, err = applicationcredentials.ExtractApplicationCredentials(pages)
			if err != nil {
				return wrap("extract", err)
			}
			if len(acs) != 1 || acs[0].ID != x.acAllID {
				return fmt.Errorf("list name=%s gave %d, want only %s", x.acAllName, len(acs), x.acAllID)
			}
		}
		return nil
	})
	if okAll {
		x.r.step("authenticate with an application credential (id + secret), tokens.Get", func() error {
			return x.acAuth(gophercloud.AuthOptions{
				IdentityEndpoint:            x.env.authURL,
				ApplicationCredentialID:     x.acAllID,
				ApplicationCredentialSecret: x.acAllSecret,
			}, []string{"member", x.roleName}, nil)
		})
		x.r.step("authenticate with an application credential (name + user name + domain)", func() error {
			return x.acAuth(gophercloud.AuthOptions{
				IdentityEndpoint:            x.env.authURL,
				ApplicationCredentialName:   x.acAllName,
				ApplicationCredentialSecret: x.acAllSecret,
				Username:                    x.userName,
				DomainName:                  x.env.userDomain,
			}, []string{"member", x.roleName}, nil)
		})
	}
	if okRole {
		x.r.step("authenticate with the role-restricted application credential (token has only that role)", func() error {
			return x.acAuth(gophercloud.AuthOptions{
				IdentityEndpoint:            x.env.authURL,
				ApplicationCredentialID:     x.acRoleID,
				ApplicationCredentialSecret: x.acRoleSecret,
			}, []string{x.roleName}, []string{"member", "reader", "admin"})
		})
	}
	for _, ac := range []struct{ what, id, secret string }{
		{"all roles", x.acAllID, x.acAllSecret}, {"restricted", x.acRoleID, x.acRoleSecret}} {
		if ac.id == "" {
			continue
		}
		ac := ac
		x.r.step("application credentials delete ("+ac.what+"; then get 404, authentication refused)", func() error {
			if err := applicationcredentials.Delete(uc, x.userID, ac.id).ExtractErr(); err != nil {
				return err
			}
			x.disown("ac " + ac.id)
			if _, err := applicationcredentials.Get(uc, x.userID, ac.id).Extract(); httpStatus(err) != 404 {
				return fmt.Errorf("get of the deleted application credential: want 404, got %s", errText(err))
			}
			_, err := openstack.AuthenticatedClient(gophercloud.AuthOptions{
				IdentityEndpoint:            x.env.authURL,
				ApplicationCredentialID:     ac.id,
				ApplicationCredentialSecret: ac.secret,
			})
			if err == nil {
				return fmt.Errorf("a deleted application credential still authenticates")
			}
			// Keystone 30.0.0 answers 404 (application credential not found); 401 is as good.
			if st := httpStatus(err); st != 401 && st != 404 {
				return wrap("authenticating with a deleted application credential should fail with 401 or 404", err)
			}
			return nil
		})
	}
}

// acAuth authenticates with application-credential options, then reads the token back
// with tokens.Get as admin and checks its project and roles.
func (x *run) acAuth(opts gophercloud.AuthOptions, wantRoles, notRoles []string) error {
	p, err := openstack.AuthenticatedClient(opts)
	if err != nil {
		return wrap("authenticate", err)
	}
	res := tokens.Get(x.id, p.Token())
	if res.Err != nil {
		return wrap("tokens.Get of the application credential token", res.Err)
	}
	user, err := res.ExtractUser()
	if err != nil {
		return wrap("extract user", err)
	}
	if user.ID != x.userID {
		return fmt.Errorf("token user %+v, want %s", user, x.userID)
	}
	project, err := res.ExtractProject()
	if err != nil {
		return wrap("extract project", err)
	}
	if project == nil || project.ID != x.projectID {
		return fmt.Errorf("token project %+v, want %s", project, x.projectID)
	}
	rs, err := res.ExtractRoles()
	if err != nil {
		return wrap("extract roles", err)
	}
	for _, w := range wantRoles {
		if !hasTokenRole(rs, w) {
			return fmt.Errorf("token roles %v lack %s", tokenRoleNames(rs), w)
		}
	}
	for _, n := range notRoles {
		if hasTokenRole(rs, n) {
			return fmt.Errorf("token roles %v include %s, which the application credential does not grant", tokenRoleNames(rs), n)
		}
	}
	var body struct {
		Methods               []string               `json:"methods"`
		ApplicationCredential map[string]interface{} `json:"application_credential"`
	}
	if err := res.ExtractInto(&body); err != nil {
		return wrap("extract methods", err)
	}
	if len(body.Methods) != 1 || body.Methods[0] != "application_credential" {
		return fmt.Errorf("token methods %v, want [application_credential]", body.Methods)
	}
	if body.ApplicationCredential == nil || body.ApplicationCredential["id"] == nil {
		return fmt.Errorf("token lacks application_credential {id, name, restricted}")
	}
	return nil
}

// ---------------------------------------------------------------- deletes and cleanup

func (x *run) deletes() {
	if x.userID != "" {
		x.r.step("users delete (then get 404, password authentication 401)", func() error {
			if err := users.Delete(x.id, x.userID).ExtractErr(); err != nil {
				return err
			}
			x.disown("user")
			// Keystone drops a deleted user's assignments with it.
			x.disown("assignment " + x.memberRoleID)
			x.disown("assignment " + x.roleID)
			if _, err := users.Get(x.id, x.userID).Extract(); httpStatus(err) != 404 {
				return fmt.Errorf("get of the deleted user: want 404, got %s", errText(err))
			}
			if _, err := x.userClient(x.userName, x.userPassword); httpStatus(err) != 401 {
				return fmt.Errorf("authenticating as the deleted user: want 401, got %s", errText(err))
			}
			return nil
		})
	}
	if x.roleID != "" {
		x.r.step("roles delete (then get 404)", func() error {
			if err := roles.Delete(x.id, x.roleID).ExtractErr(); err != nil {
				return err
			}
			x.disown("role")
			if _, err := roles.Get(x.id, x.roleID).Extract(); httpStatus(err) != 404 {
				return fmt.Errorf("get of the deleted role: want 404, got %s", errText(err))
			}
			return nil
		})
	}
	if x.projectID != "" {
		x.r.step("projects delete (then get 404)", func() error {
			if err := projects.Delete(x.id, x.projectID).ExtractErr(); err != nil {
				return err
			}
			x.disown("project")
			if _, err := projects.Get(x.id, x.projectID).Extract(); httpStatus(err) != 404 {
				return fmt.Errorf("get of the deleted project: want 404, got %s", errText(err))
			}
			return nil
		})
	}
}

// cleanup deletes, newest first, whatever the steps above created but did not delete
// themselves (because they failed or never ran). A 404 counts as already gone.
func (x *run) cleanup() {
	if x.id == nil {
		return
	}
	x.r.step("clean up everything created", func() error {
		var problems []string
		for i := len(x.owned) - 1; i >= 0; i-- {
			c := x.owned[i]
			if err := c.del(); err != nil && httpStatus(err) != 404 {
				problems = append(problems, fmt.Sprintf("%s: %s", c.key, describe(err)))
			} else {
				x.r.logf("cleanup deleted %s", c.key)
			}
		}
		x.owned = nil
		if len(problems) > 0 {
			return fmt.Errorf("left behind: %s", strings.Join(problems, "; "))
		}
		return nil
	})
}

// ---------------------------------------------------------------- helpers

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func errText(err error) string {
	if err == nil {
		return "success"
	}
	return describe(err)
}

func hasTokenRole(rs []tokens.Role, name string) bool {
	for _, r := range rs {
		if r.Name == name {
			return true
		}
	}
	return false
}

func tokenRoleNames(rs []tokens.Role) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func roleNames(rs []roles.Role) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func containsRole(rs []roles.Role, id string) bool {
	for _, r := range rs {
		if r.ID == id {
			return true
		}
	}
	return false
}

func containsACRole(rs []applicationcredentials.Role, id string) bool {
	for _, r := range rs {
		if r.ID == id {
			return true
		}
	}
	return false
}

func containsAC(acs []applicationcredentials.ApplicationCredential, id string) bool {
	for _, a := range acs {
		if a.ID == id {
			return true
		}
	}
	return false
}

func projectIDs(ps []projects.Project) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func containsProject(ps []projects.Project, id string) bool {
	for _, p := range ps {
		if p.ID == id {
			return true
		}
	}
	return false
}

func userIDs(us []users.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

func containsUser(us []users.User, id string) bool {
	for _, u := range us {
		if u.ID == id {
			return true
		}
	}
	return false
}

func containsAssignment(as []roles.RoleAssignment, userID, projectID, roleID string) bool {
	for _, a := range as {
		if a.User.ID == userID && a.Scope.Project.ID == projectID && a.Role.ID == roleID {
			return true
		}
	}
	return false
}

func assignmentStrings(as []roles.RoleAssignment) []string {
	var out []string
	for _, a := range as {
		who := "user:" + a.User.ID
		if a.Group.ID != "" {
			who = "group:" + a.Group.ID
		}
		where := "project:" + a.Scope.Project.ID
		if a.Scope.Domain.ID != "" {
			where = "domain:" + a.Scope.Domain.ID
		}
		out = append(out, fmt.Sprintf("%s role:%s on %s", who, a.Role.ID, where))
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s] == 0 {
			return false
		}
		seen[s]--
	}
	return true
}

// applicationCredentialOnly is the mode suites/80-mfa runs: the Terraform provider configured
// with application_credential_id / _secret (OS_APPLICATION_CREDENTIAL_ID / _SECRET), for a user
// whose password logins need a second factor. It authenticates, checks whose token it got
// (OS_USER_ID), reads the identity endpoint from the catalog and lists the user's application
// credentials with that token; it creates nothing.
func applicationCredentialOnly(r *report) {
	opts := gophercloud.AuthOptions{
		IdentityEndpoint:            os.Getenv("OS_AUTH_URL"),
		ApplicationCredentialID:     os.Getenv("OS_APPLICATION_CREDENTIAL_ID"),
		ApplicationCredentialSecret: os.Getenv("OS_APPLICATION_CREDENTIAL_SECRET"),
	}
	region := os.Getenv("OS_REGION_NAME")
	if region == "" {
		region = "RegionOne"
	}
	var p *gophercloud.ProviderClient
	userID := os.Getenv("OS_USER_ID")
	r.step("authenticate (application credential, AuthenticatedClient)", func() error {
		client, err := openstack.AuthenticatedClient(opts)
		if err != nil {
			return err
		}
		res, ok := client.GetAuthResult().(tokens.CreateResult)
		if !ok {
			return fmt.Errorf("auth result is %T, want tokens.CreateResult", client.GetAuthResult())
		}
		u, err := res.ExtractUser()
		if err != nil {
			return wrap("extract the token's user", err)
		}
		if userID != "" && u.ID != userID {
			return fmt.Errorf("the token is user %s's, want %s", u.ID, userID)
		}
		userID = u.ID
		p = client
		return nil
	})
	if p == nil {
		return
	}
	r.step("list the user's application credentials with that token", func() error {
		id, err := openstack.NewIdentityV3(p, gophercloud.EndpointOpts{Region: region})
		if err != nil {
			return wrap("identity endpoint from the catalog", err)
		}
		pages, err := applicationcredentials.List(id, userID, nil).AllPages()
		if err != nil {
			return err
		}
		acs, err := applicationcredentials.ExtractApplicationCredentials(pages)
		if err != nil {
			return err
		}
		for _, ac := range acs {
			if ac.ID == opts.ApplicationCredentialID {
				return nil
			}
		}
		return fmt.Errorf("the credential %s is not in its user's list (%d listed)",
			opts.ApplicationCredentialID, len(acs))
	})
}
