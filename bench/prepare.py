#!/usr/bin/env python3
"""Bulk preparation for bench/loadtest: N users and M live sessions, fast.

    bench/prepare.py BASE_URL USERS SESSIONS [DEVICES]

The running server registers one user (so its hash is the service's own
Argon2id of BENCH_PASSWORD, at the configured parameters); the other
USERS - 1 rows copy that hash in one INSERT ... SELECT, so every prepared
user logs in with BENCH_PASSWORD. SESSIONS app sessions, spread over the
users, are written straight into the store in use (the sessions table, or
Redis through `redis-cli --pipe`) in the exact form the service writes
them, keyed by the SHA-256 of tokens made here. DEVICES more sessions go to
one user, u1 (bench/devices.sh), started a second apart up to now. A sample of the emails and
tokens goes into BENCH_DIR for wrk; 100 real logins give browser cookies
(a cookie is signed by the server, so it cannot be made here).

Reads DATABASE_URL, REDIS_URL (unset: the embedded store), REDIS_KEY_PREFIX,
BENCH_DIR and BENCH_PASSWORD. Prints what it did and the footprint (bytes
per user and per session) as `FOOTPRINT key=value ...` lines.
"""
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

# Emails and tokens handed to wrk: the same number at every size, so that
# a run at a million differs from one at a thousand only in what the
# stores hold (not in how many sessions are touched, say).
SAMPLE = 1_000
COOKIES = 100
APP_IDLE_SECS = 30 * 24 * 3600
APP_ABSOLUTE_SECS = 90 * 24 * 3600

base, users, sessions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
devices = int(sys.argv[4]) if len(sys.argv) > 4 else 0
directory, password = os.environ["BENCH_DIR"], os.environ["BENCH_PASSWORD"]
database = os.environ["DATABASE_URL"]
redis_url = os.environ.get("REDIS_URL")
prefix = os.environ.get("REDIS_KEY_PREFIX", "accounts:")
sqlite_path = database[len("sqlite://"):] if database.startswith("sqlite://") else None


def log(message):
    print(message, file=sys.stderr, flush=True)


def post(path, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request) as response:
        return json.load(response), response.headers.get_all("Set-Cookie") or []


def email(i):
    return f"u{i}@bench.example"


def psql(sql, stdin=None):
    out = subprocess.run(["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql],
                         input=stdin, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"psql failed: {out.stderr.strip()}")
    return out.stdout.strip()


def sql(statement, rows=None):
    """Runs one statement on the database in use (rows: for executemany)."""
    if sqlite_path:
        conn = sqlite3.connect(sqlite_path, timeout=30)
        conn.execute("PRAGMA busy_timeout = 30000")
        with conn:
            if rows is None:
                result = conn.execute(statement).fetchall()
            else:
                conn.executemany(statement, rows)
                result = []
        conn.close()
        return result[0][0] if result and result[0] else None
    return psql(statement)


def database_bytes():
    if sqlite_path:
        conn = sqlite3.connect(sqlite_path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = conn.execute("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()").fetchone()[0]
        conn.close()
        return size
    psql("VACUUM ANALYZE")
    return int(psql("SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind = 'r'"))


def redis_cli(*args, stdin=None):
    out = subprocess.run(["redis-cli", "-u", redis_url, *args], input=stdin, capture_output=True)
    if out.returncode != 0:
        sys.exit(f"redis-cli failed: {out.stderr.decode().strip()}")
    return out.stdout.decode()


def redis_memory():
    info = redis_cli("INFO", "memory")
    return int(next(line.split(":")[1] for line in info.splitlines() if line.startswith("used_memory:")))


started = time.monotonic()
# The first user, through the API: the hash every other user shares.
body, _ = post("/accounts/register", {"email": email(0), "password": password, "client": "app"})
first_id = body["user"]["id"]
staff_token = body["token"]
sql(f"UPDATE users SET is_staff = {'1' if sqlite_path else 'true'} WHERE id = {first_id}")
hashed = sql(f"SELECT password FROM users WHERE id = {first_id}")
now = time.time()
stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))

bytes_before = database_bytes()
if users > 1:
    columns = "email, email_canonical, password, date_joined, email_verified"
    if sqlite_path:
        sql(f"""INSERT INTO users ({columns})
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {users - 1})
                SELECT 'u' || i || '@bench.example', 'u' || i || '@bench.example', '{hashed}', '{stamp}', 1 FROM n""")
    else:
        sql(f"""INSERT INTO users ({columns})
                SELECT 'u' || i || '@bench.example', 'u' || i || '@bench.example', '{hashed}', '{stamp}', true
                FROM generate_series(1, {users - 1}) AS i""")
    sql(f"INSERT INTO profiles (user_id) SELECT id FROM users WHERE id > {first_id}")
user_bytes = database_bytes() - bytes_before
log(f"  {users} users in {time.monotonic() - started:.1f} s")

# Sessions: the state exactly as the service writes an app login's.
step = time.monotonic()
seed = os.urandom(16).hex()
created = int(now)
expires_at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now + APP_IDLE_SECS))


def session(i, user=None, started=created):
    token = hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()  # 64 alphanumerics
    sid = hashlib.sha256(token.encode()).digest()[:16].hex()
    user = first_id + i % users if user is None else user
    state = json.dumps({
        "actix_identity.user_id": json.dumps(str(user)), "client": '"app"', "generation": "0",
        "created_at": str(started), "last_seen_at": str(started),
    }, separators=(",", ":"))
    return token, sid, user, state, started


device_tokens = []


def all_sessions():
    """(i, token, sid, user, state, started): the spread ones, then u1's devices."""
    for i in range(sessions):
        yield (i, *session(i))
    for j in range(devices):
        made = session(sessions + j, user=first_id + 1, started=created - devices + 1 + j)
        device_tokens.append(made[0])
        yield (sessions + j, *made)


memory_before = redis_memory() if redis_url else 0
bytes_before = database_bytes() if not redis_url else 0
tokens = []
every = max(1, sessions // SAMPLE)
if redis_url:
    def resp(*parts):
        out = [f"*{len(parts)}\r\n".encode()]
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(out)
    chunk, chunks = [], []
    for i, token, sid, user, state, begun in all_sessions():
        if i < sessions and i % every == 0:
            tokens.append(token)
        chunk.append(resp("SET", f"{prefix}session:{sid}", state, "EX", str(APP_IDLE_SECS)))
        chunk.append(resp("ZADD", f"{prefix}sessions_of:{user}", str(begun * 1000 + i % 1000), sid))
        if i < users:
            chunk.append(resp("EXPIRE", f"{prefix}sessions_of:{user}", str(APP_ABSOLUTE_SECS)))
        if len(chunk) >= 100_000:
            chunks.append(b"".join(chunk))
            chunk = []
    chunks.append(b"".join(chunk))
    out = redis_cli("--pipe", stdin=b"".join(chunks))
    if "errors: 0" not in out:
        sys.exit(f"redis-cli --pipe: {out}")
    session_bytes = redis_memory() - memory_before
else:
    def rows():
        for i, token, sid, user, state, begun in all_sessions():
            if i < sessions and i % every == 0:
                tokens.append(token)
            yield sid, user, state, expires_at, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(begun))
    insert = "INSERT INTO sessions (id, user_id, state, expires_at, created_at) VALUES (%s)"
    if sqlite_path:
        sql(insert % "?, ?, ?, ?, ?", rows())
    else:
        # COPY's text format reads a backslash as an escape: double them.
        lines = "".join(f"{sid}\t{user}\t{state.replace(chr(92), chr(92) * 2)}\t{expires}\t{stamp}\n"
                        for sid, user, state, expires, stamp in rows())
        psql("COPY sessions (id, user_id, state, expires_at, created_at) FROM STDIN", stdin=lines)
    session_bytes = database_bytes() - bytes_before
log(f"  {sessions} sessions in {time.monotonic() - step:.1f} s")


def login(i):
    _, cookies = post("/accounts/login", {"email": email(i), "password": password})
    return next(c.split(";")[0] for c in cookies if c.startswith("sessionid="))


sample = range(0, users, max(1, users // SAMPLE))
with ThreadPoolExecutor(4) as pool:
    cookies = list(pool.map(login, range(1, users, max(1, users // COOKIES))))
for name, values in (("emails", [email(i) for i in sample]), ("tokens", tokens), ("cookies", cookies),
                     ("staff_token", [staff_token]),
                     ("searches", [f"u{i}@" for i in sample]),
                     # u1's newest device session, then its three oldest.
                     ("device_tokens", device_tokens[::-1][:1] + device_tokens[:3])):
    with open(os.path.join(directory, name), "w") as f:
        f.write("\n".join(values) + "\n")
print(f"FOOTPRINT users={users} sessions={sessions + devices} user_bytes={user_bytes} session_bytes={session_bytes} "
      f"store={'redis' if redis_url else 'database'} seconds={time.monotonic() - started:.1f}")
