"""Builds the Django databases that the `import-django` tests import: real
Django (5.2, from PyPI) makes the tables with its own migrations and the
users with its own hashers, as a real project would.

    python3 tests/django/make_projects.py SHAPE DATABASE MEDIA_ROOT

SHAPE is `builtin` (django.contrib.auth's `auth_user` with a one-to-one
`UserProfileInfo`, the tutorial's shape) or `custom` (a custom user model
with `USERNAME_FIELD = 'email'`, no username and no names, and a profile
with a bio). DATABASE is a file path (SQLite) or a postgres:// URL (the
database must exist and be empty). Pictures are written under MEDIA_ROOT.
`tests/django/make_fixtures` runs this for every shape and backend.
"""

import datetime
import os
import sys
import tempfile
import textwrap
import urllib.parse

SHAPE, DATABASE, MEDIA = sys.argv[1:4]
PASSWORD = "correct horse battery staple"
UTC = datetime.timezone.utc

MODELS = {
    "builtin": """
        from django.contrib.auth.models import User
        from django.db import models

        class UserProfileInfo(models.Model):
            user = models.OneToOneField(User, on_delete=models.CASCADE)
            portfolio_site = models.URLField(blank=True)
            profile_pic = models.ImageField(upload_to="profile_pics", blank=True)
    """,
    "custom": """
        from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
        from django.contrib.auth.models import PermissionsMixin
        from django.db import models
        from django.utils import timezone

        class EmailUserManager(BaseUserManager):
            def create_user(self, email, password=None, **extra):
                user = self.model(email=self.normalize_email(email), **extra)
                user.set_password(password)
                user.save()
                return user

        class EmailUser(AbstractBaseUser, PermissionsMixin):
            email = models.EmailField(unique=True)
            is_staff = models.BooleanField(default=False)
            is_active = models.BooleanField(default=True)
            date_joined = models.DateTimeField(default=timezone.now)
            USERNAME_FIELD = "email"
            objects = EmailUserManager()

        class Profile(models.Model):
            user = models.OneToOneField(EmailUser, on_delete=models.CASCADE)
            portfolio_site = models.URLField(blank=True)
            bio = models.TextField(blank=True)
            profile_pic = models.ImageField(upload_to="avatars", blank=True)
    """,
}
APP = {"builtin": "basic_app", "custom": "people"}[SHAPE]

# The app, as files: Django's makemigrations needs a real package.
project = tempfile.mkdtemp(prefix="django-fixture-")
os.makedirs(os.path.join(project, APP, "migrations"))
for name in ("__init__.py", os.path.join("migrations", "__init__.py")):
    open(os.path.join(project, APP, name), "w").close()
with open(os.path.join(project, APP, "models.py"), "w") as f:
    f.write(textwrap.dedent(MODELS[SHAPE]))
sys.path.insert(0, project)

if DATABASE.startswith("postgres"):
    url = urllib.parse.urlparse(DATABASE)
    database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/"),
        "HOST": url.hostname,
        "PORT": url.port or 5432,
        "USER": url.username or "postgres",
    }
else:
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": DATABASE}

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        APP,
    ],
    DATABASES={"default": database},
    AUTH_USER_MODEL="people.EmailUser" if SHAPE == "custom" else "auth.User",
    USE_TZ=True,
    MEDIA_ROOT=MEDIA,
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ],
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
)
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from PIL import Image  # noqa: E402

call_command("makemigrations", APP, verbosity=0)
call_command("migrate", verbosity=0)

User = get_user_model()
models = __import__(f"{APP}.models", fromlist=["*"])


def picture(relative, size, color):
    path = os.path.join(MEDIA, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return relative


def at(*parts):
    return datetime.datetime(*parts, tzinfo=UTC)


def hashed(algorithm):
    if algorithm == "unusable":
        return make_password(None)
    return make_password(PASSWORD, hasher=algorithm)


if SHAPE == "builtin":
    os.makedirs(os.path.join(MEDIA, "profile_pics"), exist_ok=True)
    with open(os.path.join(MEDIA, "profile_pics", "notes.png"), "w") as f:
        f.write("these are notes, not a picture\n")
    # (username, email, hasher, extra fields, profile: None or (site, pic))
    people = [
        ("ada", "ada@example.com", "pbkdf2_sha256",
         dict(first_name="Ada", last_name="Lovelace", is_staff=True, is_superuser=True,
              date_joined=at(2019, 5, 1, 8, 30, 15, 123456),
              last_login=at(2024, 2, 29, 23, 59, 1)),
         ("https://ada.example.com", picture("profile_pics/ada.png", (40, 30), "red"))),
        ("bob", " Bob@Example.COM ", "pbkdf2_sha1", {}, ("", "profile_pics/missing.png")),
        ("carol", "carol@example.com", "argon2", {}, ("", "profile_pics/notes.png")),
        ("dave", "dave@example.com", "bcrypt_sha256", {}, None),
        ("erin", "erin@example.com", "scrypt", dict(is_active=False), ("", "")),
        ("frank", "frank@example.com", "unusable", {}, ("", "")),
        ("grace", "grace@example.com", "md5", {}, ("", "")),
        ("nomail", "", "pbkdf2_sha256", {}, ("", "")),
        ("heidi", "heidi@example.com", "pbkdf2_sha256", {}, ("", "")),
        ("heidi2", "HEIDI@example.com", "pbkdf2_sha256", {}, ("", "")),
        ("ivan", "ivan@example.com", "pbkdf2_sha256", dict(first_name="Ivan"), ("", "")),
        ("judy", "judy@example.com", "bcrypt", {}, ("not a url", "../outside.png")),
    ]
    for username, email, algorithm, extra, profile in people:
        extra.setdefault("date_joined", at(2020, 1, 2, 3, 4, 5))
        user = User.objects.create(
            username=username, email=email, password=hashed(algorithm), **extra)
        if profile is not None:
            site, pic = profile
            models.UserProfileInfo.objects.create(
                user=user, portfolio_site=site, profile_pic=pic)
else:
    people = [
        ("Zoe@Example.org", "argon2", dict(is_staff=True, date_joined=at(2021, 6, 7, 8, 9, 10)),
         ("https://zoe.example.org", "Writes compilers.",
          picture("avatars/zoe.png", (20, 20), "blue"))),
        ("yann@example.org", "pbkdf2_sha256", {}, ("", "", "")),
        ("not-an-email", "pbkdf2_sha256", {}, None),
    ]
    for email, algorithm, extra, profile in people:
        user = User.objects.create(email=email, password=hashed(algorithm), **extra)
        if profile is not None:
            site, bio, pic = profile
            models.Profile.objects.create(
                user=user, portfolio_site=site, bio=bio, profile_pic=pic)
