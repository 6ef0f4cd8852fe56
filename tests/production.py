#!/usr/bin/env python3
"""The production setup, for real: two instances of the release binary with
production settings on one PostgreSQL and one Redis, then their faults.

Runs a PostgreSQL and a Redis of its own (on free loopback ports, in a
temporary directory) so that it can stop and restart them without touching
the machine's servers. Standard library only. Exits non-zero on the first
failed check. Run by .ci/run as `python3 tests/production.py BINARY`.

Checks:
  1. scale-out: register and log in on A; the same cookie and token work on
     B; logout on B ends them on A; a password change on A ends a second
     session on B.
  2. logs: JSON lines with a request id, and no password, token or cookie.
  3. Redis down: /readyz 503 and session requests 503 problem+json on both
     (never 500, never a cleared cookie); Redis back: both recover without a
     restart, with the old sessions.
  4. PostgreSQL down: the same, for requests that need the database.
  5. SIGKILL of A under load: B keeps serving; nothing written is lost.
  6. SIGTERM of B with requests in flight: they all complete.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

PASSWORD = "production passphrase 2026"
NEW_PASSWORD = "a different production passphrase"
SECRET_KEY = "production-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
PG_BIN = next(
    (os.path.join(d, "bin") for d in sorted(os.listdir("/usr/lib/postgresql"), reverse=True)
     for d in [os.path.join("/usr/lib/postgresql", d)] if os.path.isdir(os.path.join(d, "bin"))),
    None,
) if os.path.isdir("/usr/lib/postgresql") else None

checks = 0


def check(condition, message):
    global checks
    checks += 1
    if not condition:
        print(f"FAIL: {message}", flush=True)
        sys.exit(1)
    print(f"ok   {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body or b"null")

    def code(self):
        try:
            return self.json().get("code")
        except (ValueError, AttributeError):
            return None


def request(base, method, path, body=None, headers=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    headers = dict(headers or {})
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Reply(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.headers, e.read())


class Browser:
    """Keeps cookies by hand (they are Secure; this is plain http on loopback)."""

    def __init__(self):
        self.cookies = {}

    def send(self, base, method, path, body=None):
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method not in ("GET", "HEAD") and "csrftoken" in self.cookies:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        reply = request(base, method, path, body, headers)
        for line in reply.headers.get_all("Set-Cookie") or []:
            name, _, rest = line.partition("=")
            value = rest.split(";")[0]
            if value == "" or "Max-Age=0" in line:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return reply


class Instance:
    def __init__(self, name, env, binary, workdir):
        self.name, self.port = name, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(workdir, f"{name}.log")
        env = dict(env, BIND_ADDRESS=f"0.0.0.0:{self.port}")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([binary, "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        ready = False
        for _ in range(100):
            try:
                ready = request(self.base, "GET", "/readyz", timeout=2).status == 200
            except OSError:
                ready = False
            if ready:
                break
            time.sleep(0.1)
        check(ready, f"instance {name} is ready on port {self.port}")

    def stop(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=40)


def start_redis(port, directory):
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
         "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
        stdout=subprocess.DEVNULL)
    check(wait_port(port), f"Redis started on port {port}")
    return proc


def start_postgres(port, directory):
    subprocess.run([os.path.join(PG_BIN, "pg_ctl"), "-D", directory, "-o", f"-p {port} -k {directory} -c listen_addresses=127.0.0.1",
                    "-l", os.path.join(directory, "log"), "-w", "start"],
                   check=True, stdout=subprocess.DEVNULL, user="postgres")
    check(wait_port(port), f"PostgreSQL started on port {port}")


def stop_postgres(directory):
    subprocess.run([os.path.join(PG_BIN, "pg_ctl"), "-D", directory, "-m", "fast", "-w", "stop"],
                   check=True, stdout=subprocess.DEVNULL, user="postgres")


def until(predicate, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/accounts")
    check(os.access(binary, os.X_OK), f"the release binary exists: {binary}")
    check(PG_BIN is not None, "PostgreSQL server binaries are installed")
    work = tempfile.mkdtemp(prefix="accounts-production-")
    os.chmod(work, 0o755)
    pg_dir = os.path.join(work, "pg")
    os.mkdir(pg_dir)
    shutil.chown(pg_dir, "postgres", "postgres")
    redis_dir = os.path.join(work, "redis")
    os.mkdir(redis_dir)
    media = os.path.join(work, "media")
    instances, servers = [], []
    try:
        subprocess.run([os.path.join(PG_BIN, "initdb"), "-D", pg_dir, "-A", "trust", "-U", "postgres"],
                       check=True, stdout=subprocess.DEVNULL, user="postgres")
        pg_port, redis_port = free_port(), free_port()
        start_postgres(pg_port, pg_dir)
        redis = start_redis(redis_port, redis_dir)
        servers.append(redis)

        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{pg_port}/postgres",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}",
            "SECRET_KEY": SECRET_KEY,
            "COOKIE_SECURE": "true",
            "MEDIA_ROOT": media,
            "EMAIL_FILE_DIR": os.path.join(work, "outbox"),
            "LOG_FORMAT": "json",
            "RUST_LOG": "info",
            "WORKERS": "2",
        }
        a = Instance("a", env, binary, work)
        b = Instance("b", env, binary, work)
        instances += [a, b]

        # 1. Scale-out.
        browser = Browser()
        browser.send(a.base, "GET", "/accounts/csrf")
        email = "ada@production.example"
        reply = browser.send(a.base, "POST", "/accounts/register", {"email": email, "password": PASSWORD})
        check(reply.status == 201, "register on A")
        cookie_line = next(l for l in reply.headers.get_all("Set-Cookie") if l.startswith("__Host-sessionid="))
        check("Secure" in cookie_line and "HttpOnly" in cookie_line and "Path=/" in cookie_line
              and "Domain" not in cookie_line, "the session cookie is __Host-: Secure, HttpOnly, Path=/, no Domain")
        token = request(a.base, "POST", "/accounts/login",
                        {"email": email, "password": PASSWORD, "client": "app"}).json()["token"]
        check(browser.send(b.base, "GET", "/accounts/me").status == 200, "the cookie from A works on B")
        bearer = {"Authorization": f"Bearer {token}"}
        check(request(b.base, "GET", "/accounts/me", headers=bearer).status == 200, "the token from A works on B")
        request_id = request(b.base, "GET", "/accounts/me", headers=bearer).headers.get("X-Request-Id")
        check(bool(request_id), "responses carry X-Request-Id")

        old_cookies = dict(browser.cookies)
        check(browser.send(b.base, "POST", "/accounts/logout").status == 204, "logout (cookie) on B")
        replay = Browser()
        replay.cookies = old_cookies
        check(replay.send(a.base, "GET", "/accounts/me").status == 401, "A rejects the logged-out cookie at once")
        check(request(b.base, "POST", "/accounts/logout", headers=bearer).status == 204, "logout (token) on B")
        check(request(a.base, "GET", "/accounts/me", headers=bearer).status == 401, "A rejects the logged-out token at once")

        first = request(a.base, "POST", "/accounts/login", {"email": email, "password": PASSWORD, "client": "app"}).json()["token"]
        second = request(b.base, "POST", "/accounts/login", {"email": email, "password": PASSWORD, "client": "app"}).json()["token"]
        changed = request(a.base, "POST", "/accounts/password/change",
                          {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                          {"Authorization": f"Bearer {first}"})
        check(changed.status == 204, "password change on A")
        check(request(b.base, "GET", "/accounts/me", headers={"Authorization": f"Bearer {second}"}).status == 401,
              "the password change on A ended the second session on B")
        check(request(b.base, "GET", "/accounts/me", headers={"Authorization": f"Bearer {first}"}).status == 200,
              "the session that changed the password goes on, on B too")
        token = first
        bearer = {"Authorization": f"Bearer {token}"}
        browser = Browser()
        browser.send(b.base, "GET", "/accounts/csrf")
        check(browser.send(b.base, "POST", "/accounts/login", {"email": email, "password": NEW_PASSWORD}).status == 200,
              "browser login on B with the new password")
        check(request(a.base, "GET", "/metrics").status == 200, "/metrics answers")

        # 2. Logs.
        secrets = [PASSWORD, NEW_PASSWORD, token, second, browser.cookies["__Host-sessionid"], SECRET_KEY]
        for instance in (a, b):
            lines = [l for l in open(instance.log_path).read().splitlines() if l.strip()]
            parsed = [json.loads(l) for l in lines]
            check(all(isinstance(p, dict) for p in parsed), f"{instance.name}: every log line is JSON")
            request_lines = [p for p in parsed if p.get("message") == "request completed"]
            check(request_lines and all(p.get("span", {}).get("request_id") for p in request_lines),
                  f"{instance.name}: every request line has a request id")
            text = "\n".join(lines)
            check(not any(s in text for s in secrets), f"{instance.name}: no password, token, cookie or key in the logs")

        # 3. Redis down.
        subprocess.run(["redis-cli", "-p", str(redis_port), "shutdown"], stdout=subprocess.DEVNULL)
        redis.wait(timeout=10)
        for instance in (a, b):
            ready = request(instance.base, "GET", "/readyz")
            check(ready.status == 503 and ready.code() == "not_ready"
                  and ready.json()["checks"]["session_store"] == "unavailable",
                  f"{instance.name}: /readyz is 503 while Redis is down")
            me = request(instance.base, "GET", "/accounts/me", headers=bearer)
            check(me.status == 503 and me.code() == "service_unavailable"
                  and me.headers.get("Content-Type") == "application/problem+json",
                  f"{instance.name}: a token request is 503 problem+json while Redis is down")
            reply = browser.send(instance.base, "GET", "/accounts/me")
            check(reply.status == 503 and "__Host-sessionid" in browser.cookies and not reply.headers.get_all("Set-Cookie"),
                  f"{instance.name}: a cookie request is 503 and keeps its cookie")
            check(request(instance.base, "GET", "/healthz").status == 200, f"{instance.name}: /healthz stays 200")
        redis = start_redis(redis_port, redis_dir)
        servers[0] = redis
        for instance in (a, b):
            check(until(lambda: request(instance.base, "GET", "/readyz").status == 200),
                  f"{instance.name}: ready again after Redis is back, without a restart")
            check(request(instance.base, "GET", "/accounts/me", headers=bearer).status == 200,
                  f"{instance.name}: the token from before the outage still works")
            check(browser.send(instance.base, "GET", "/accounts/me").status == 200,
                  f"{instance.name}: the cookie from before the outage still works")

        # 4. PostgreSQL down.
        stop_postgres(pg_dir)
        for instance in (a, b):
            ready = request(instance.base, "GET", "/readyz")
            check(ready.status == 503 and ready.json()["checks"]["database"] == "unavailable",
                  f"{instance.name}: /readyz is 503 while PostgreSQL is down")
            profile = request(instance.base, "GET", "/accounts/me/profile", headers=bearer)
            check(profile.status == 503 and profile.code() == "service_unavailable",
                  f"{instance.name}: a request that needs the database is 503 while PostgreSQL is down")
            login = request(instance.base, "POST", "/accounts/login", {"email": email, "password": NEW_PASSWORD})
            check(login.status == 503, f"{instance.name}: login is 503 while PostgreSQL is down")
        start_postgres(pg_port, pg_dir)
        statuses = []

        def profile_ok(instance):
            status = request(instance.base, "GET", "/accounts/me/profile", headers=bearer).status
            statuses.append(status)
            return status == 200

        for instance in (a, b):
            check(until(lambda: profile_ok(instance)), f"{instance.name}: database requests work again without a restart")
            check(until(lambda: request(instance.base, "GET", "/readyz").status == 200), f"{instance.name}: ready again")
        check(500 not in statuses, f"no 500 while recovering (saw {sorted(set(statuses))})")

        # 5. SIGKILL of A under load.
        results = {"a": [], "b": []}
        stop_load = threading.Event()

        def load(instance, sink):
            while not stop_load.is_set():
                try:
                    sink.append(request(instance.base, "GET", "/accounts/me", headers=bearer, timeout=5).status)
                except OSError:
                    sink.append("connection error")

        threads = [threading.Thread(target=load, args=(i, results[i.name])) for i in (a, b) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        written = request(a.base, "POST", "/accounts/register",
                          {"email": "written@production.example", "password": PASSWORD, "client": "app"})
        check(written.status == 201, "a registration on A just before it is killed")
        a.stop(signal.SIGKILL)
        time.sleep(1.5)
        stop_load.set()
        for t in threads:
            t.join()
        check(len(results["b"]) > 20 and all(s == 200 for s in results["b"]),
              f"B kept serving while A was killed ({len(results['b'])} requests, all 200)")
        check(request(b.base, "POST", "/accounts/login",
                      {"email": "written@production.example", "password": PASSWORD}).status == 200,
              "what A wrote before dying is there (login on B)")
        check(request(b.base, "GET", "/accounts/me",
                      headers={"Authorization": f"Bearer {written.json()['token']}"}).status == 200,
              "the session A created before dying works on B")

        # 6. SIGTERM with requests in flight.
        in_flight = []

        def slow_login():
            try:
                in_flight.append(request(b.base, "POST", "/accounts/login",
                                         {"email": email, "password": NEW_PASSWORD, "client": "app"}, timeout=30).status)
            except OSError as error:
                in_flight.append(f"error: {error}")

        # Five: more at once for one account would be throttled as a burst.
        threads = [threading.Thread(target=slow_login) for _ in range(5)]
        for t in threads:
            t.start()
        time.sleep(0.05)
        b.process.send_signal(signal.SIGTERM)
        for t in threads:
            t.join()
        b.process.wait(timeout=40)
        if not all(s == 200 for s in in_flight):
            print("".join(open(b.log_path).readlines()[-30:]), flush=True)
        check(all(s == 200 for s in in_flight), f"SIGTERM let the in-flight logins finish: {in_flight}")
        check(b.process.returncode == 0, "B exited cleanly after SIGTERM")
    finally:
        for instance in instances:
            instance.stop(signal.SIGKILL)
        for server in servers:
            if server.poll() is None:
                server.kill()
        if os.path.exists(os.path.join(pg_dir, "postmaster.pid")):
            subprocess.run([os.path.join(PG_BIN, "pg_ctl"), "-D", pg_dir, "-m", "immediate", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, user="postgres")
        shutil.rmtree(work, ignore_errors=True)
    print(f"{checks} passed, 0 failed", flush=True)


if __name__ == "__main__":
    main()
