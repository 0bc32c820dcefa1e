"""Cost of GET /v3/auth/projects for a user with one project as the cloud grows (issue 9, finding 6).

Usage: conformance/.venv/bin/python benches/auth_projects.py target/debug/ironstone PORT N_PROJECTS
Starts the given server binary on a fresh SQLite store, creates N projects, prints p50/max latency.
"""
import os, subprocess, sys, tempfile, time, json, statistics
import requests

binary, port, n_projects = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = tempfile.mkdtemp()
env = dict(os.environ, IRONSTONE_DATA_DIR=d, IRONSTONE_BIND=f"127.0.0.1:{port}",
           IRONSTONE_BOOTSTRAP_PASSWORD="Measure-Pass-1")
srv = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}/v3"
for _ in range(100):
    try:
        requests.get(base, timeout=1); break
    except Exception:
        time.sleep(0.2)
def token(user, pw, project, domain="default"):
    r = requests.post(f"{base}/auth/tokens", json={"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"id": domain}, "password": pw}}}, "scope": {"project": {"name": project, "domain": {"id": domain}}}}})
    r.raise_for_status(); return r.headers["X-Subject-Token"]
adm = token("admin", "Measure-Pass-1", "admin")
H = {"X-Auth-Token": adm}
dom = requests.post(f"{base}/domains", headers=H, json={"domain": {"name": "big"}}).json()["domain"]["id"]
s = requests.Session()
first = None
for i in range(n_projects):
    p = s.post(f"{base}/projects", headers=H, json={"project": {"name": f"p{i}", "domain_id": dom}}).json()["project"]["id"]
    first = first or p
u = requests.post(f"{base}/users", headers=H, json={"user": {"name": "u", "domain_id": dom, "password": "User-Pass-1"}}).json()["user"]["id"]
roles = requests.get(f"{base}/roles?name=member", headers=H).json()["roles"]
requests.put(f"{base}/projects/{first}/users/{u}/roles/{roles[0]['id']}", headers=H).raise_for_status()
t = token("u", "User-Pass-1", "p0", dom)
lat = []
for _ in range(30):
    a = time.perf_counter(); r = s.get(f"{base}/auth/projects", headers={"X-Auth-Token": t}); lat.append((time.perf_counter() - a) * 1000)
    assert r.status_code == 200 and len(r.json()["projects"]) == 1, r.text
print(f"{os.path.basename(os.path.dirname(os.path.dirname(binary)))} projects={n_projects} auth/projects p50={statistics.median(lat):.1f} ms max={max(lat):.1f} ms")
srv.terminate(); srv.wait()
