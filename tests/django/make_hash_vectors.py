"""Password hashes made by real Django (5.2, from PyPI), for the Rust tests
of `accounts import-django` to check each format against.

    python3 -m venv /tmp/dj && /tmp/dj/bin/pip install 'Django==5.2.*' argon2-cffi bcrypt
    /tmp/dj/bin/python tests/django/make_hash_vectors.py > tests/django/hash_vectors.json

Each vector: the algorithm, the password, the encoded hash as Django
stores it, and whether Django's own check_password accepts it (a wrong
password is listed too, rejected).
"""

import json
import sys

import django
from django.conf import settings

settings.configure(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ],
)
django.setup()

from django.contrib.auth import hashers  # noqa: E402

PASSWORDS = [
    "correct horse battery staple",
    "p",
    "pässwörd ünïcode ✓",
    "x" * 100,  # longer than bcrypt's 72 bytes
]


class Argon2i(hashers.Argon2PasswordHasher):
    """The argon2i variant older Django versions made."""

    def params(self):
        import argon2

        params = super().params()
        return argon2.Parameters(
            type=argon2.low_level.Type.I,
            version=params.version,
            salt_len=params.salt_len,
            hash_len=params.hash_len,
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
        )


def vectors():
    out = []
    makers = [
        ("pbkdf2_sha256", hashers.PBKDF2PasswordHasher(), {}),
        ("pbkdf2_sha256", hashers.PBKDF2PasswordHasher(), {"iterations": 260000}),
        ("pbkdf2_sha1", hashers.PBKDF2SHA1PasswordHasher(), {}),
        ("argon2", hashers.Argon2PasswordHasher(), {}),
        ("argon2", Argon2i(), {}),
        ("bcrypt_sha256", hashers.BCryptSHA256PasswordHasher(), {}),
        ("bcrypt", hashers.BCryptPasswordHasher(), {}),
        ("scrypt", hashers.ScryptPasswordHasher(), {}),
        ("md5", hashers.MD5PasswordHasher(), {}),
    ]
    for algorithm, hasher, extra in makers:
        for i, password in enumerate(PASSWORDS):
            if algorithm.startswith("pbkdf2") and i > 0 and not extra:
                # Django's own default (1,000,000 rounds) for the first
                # password; fewer for the rest: any count is valid, and a
                # million rounds take seconds in a debug build.
                extra = {"iterations": 1000}
            if algorithm == "bcrypt" and len(password.encode()) > 72:
                # bcrypt 5 refuses what bcrypt 4 silently cut at 72 bytes.
                continue
            encoded = hasher.encode(password, hasher.salt(), **extra)
            if algorithm.startswith("pbkdf2") and extra.get("iterations") == 1000:
                extra = {}
            out.append(
                {
                    "algorithm": algorithm,
                    "password": password,
                    "encoded": encoded,
                    "django_accepts": hashers.check_password(password, encoded),
                    "django_accepts_wrong": hashers.check_password(password + "!", encoded),
                }
            )
    unusable = hashers.make_password(None)
    out.append(
        {
            "algorithm": "unusable",
            "password": "",
            "encoded": unusable,
            "django_accepts": False,
            "django_accepts_wrong": False,
        }
    )
    return out


if __name__ == "__main__":
    json.dump({"django": django.get_version(), "vectors": vectors()}, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
