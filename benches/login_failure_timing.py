"""How long each kind of failed login takes to answer (issue 10: timing must not tell them apart).

Usage: python3 benches/login_failure_timing.py target/debug/ironstone PORT [ROUNDS]
Starts the given server binary on a fresh SQLite store with lockout after 3 failures, creates an
account for each case, then prints p50/p90 latency and the answer of each case: unknown user,
wrong password, locked account (right and wrong password), must-change account with a wrong
password, disabled account with the right password. Every row must show the same 401 body and
(within noise) the same latency. Set IRONSTONE_DATABASE_URL to measure on PostgreSQL.
"""
import json, os, statistics, subprocess, sys, tempfile, time, urllib.error, urllib.request

binary, port = sys.argv[1], int(sys.argv[2])
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 100
d = tempfile.mkdtemp()
with open(os.path.join(d, "c.toml"), "w") as f:
    f.write("[security_compliance]\nlockout_failure_attempts = 3\n")
env = dict(os.environ, IRONSTONE_DATA_DIR=d, IRONSTONE_BIND=f"127.0.0.1:{port}",
           IRONSTONE_CONFIG=os.path.join(d, "c.toml"), IRONSTONE_BOOTSTRAP_PASSWORD="Measure-Pass-1")
srv = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
BASE = f"http://127.0.0.1:{port}/v3"


def call(path, body, token=None):
    headers = {"Content-Type": "application/json", **({"X-Auth-Token": token} if token else {})}
    req = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), headers=headers)
    t = time.perf_counter()
    try:
        r = urllib.request.urlopen(req)
        code, hdr, data = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        code, hdr, data = e.code, e.headers, e.read()
    return code, hdr, data, time.perf_counter() - t


def auth(name, pw):
    return call("/auth/tokens", {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": "default"}, "password": pw}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})


for _ in range(100):
    try:
        urllib.request.urlopen(BASE, timeout=1)
        break
    except Exception:
        time.sleep(0.2)
try:
    tok = auth("admin", "Measure-Pass-1")[1]["X-Subject-Token"]
    extra = {"expired": {"OS-PCU:password_change_required": True}, "disabled": {"enabled": False}}
    for n in ["wrongpw", "locked", "expired", "disabled"]:
        call("/users", {"user": {"name": n, "password": "Right-Pass-1", **extra.get(n, {})}}, tok)
    for _ in range(3):
        auth("locked", "Wrong-Pass-0")
    cases = {
        "unknown user": ("nobody", "Wrong-Pass-1"),
        "wrong password": ("wrongpw", "Wrong-Pass-1"),
        "locked, right password": ("locked", "Right-Pass-1"),
        "locked, wrong password": ("locked", "Wrong-Pass-1"),
        "must change, wrong password": ("expired", "Wrong-Pass-1"),
        "disabled, right password": ("disabled", "Right-Pass-1"),
    }
    res = {k: [] for k in cases}
    bodies = {}
    for i in range(rounds):
        for k, (u, p) in cases.items():
            code, _, data, dt = auth(u, p)
            res[k].append(dt * 1000)
            bodies.setdefault(k, (code, data))
            if k == "wrong password" and i % 2 == 1:
                auth("wrongpw", "Right-Pass-1")  # keeps it below the lockout
    first = None
    for k, v in res.items():
        v.sort()
        same = "same body" if first is None or bodies[k] == first else "DIFFERENT BODY"
        first = first or bodies[k]
        print(f"{k:30s} p50 {statistics.median(v):6.1f} ms  p90 {v[int(len(v) * .9)]:6.1f} ms  "
              f"{bodies[k][0]} {same}")
finally:
    srv.terminate()
    srv.wait()
