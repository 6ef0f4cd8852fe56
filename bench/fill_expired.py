#!/usr/bin/env python3
"""Fills the database of bench/loadtest with what the purge deletes.

    bench/fill_expired.py ROWS EMBEDDED

ROWS expired sessions when EMBEDDED is 1 (with Redis, sessions expire in
Redis), and ROWS / 10 each of expired login counters (embedded only),
expired mail tokens and mail sent more than a week ago. Run while the
server is stopped. Prints `FILLED key=value ...`.
"""
import os
import sqlite3
import subprocess
import sys
import time

rows, embedded = int(sys.argv[1]), sys.argv[2] == "1"
database = os.environ["DATABASE_URL"]
tenth = max(1, rows // 10)
past = "'2000-01-01 00:00:00'"
started = time.monotonic()


def numbered(n):
    return f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})"


statements = []
user = "(SELECT MIN(id) FROM users)"
if embedded:
    statements += [
        f"INSERT INTO sessions (id, user_id, state, expires_at, created_at) {numbered(rows)} "
        f"SELECT 'expired-' || i, {user}, '{{}}', {past}, {past} FROM n",
        f"INSERT INTO login_failures (scope_key, failures, window_ends_at) {numbered(tenth)} "
        f"SELECT 'expired-' || i, 1, {past} FROM n",
    ]
statements += [
    f"INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, expires_at) {numbered(tenth)} "
    f"SELECT 'expired-' || i, {user}, 'password_reset', 'x@bench.example', {past}, {past} FROM n",
    f"INSERT INTO outbox (kind, message_id, recipient, subject, body_text, body_html, created_at, "
    f"next_attempt_at, sent_at, user_id) {numbered(tenth)} "
    f"SELECT 'notice', 'expired-' || i, 'x@bench.example', 's', '', '', {past}, {past}, {past}, {user} FROM n",
]
if database.startswith("sqlite://"):
    conn = sqlite3.connect(database[len("sqlite://"):])
    with conn:
        for statement in statements:
            conn.execute(statement)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
else:
    for statement in statements:
        subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", statement], check=True)
print(f"FILLED sessions={rows if embedded else 0} others={tenth} seconds={time.monotonic() - started:.1f}")
