"""Secrets at rest: AES-256-GCM with a per-value nonce and row-bound associated data.

Stored form: ``v1:<key id>:<base64(nonce || ciphertext+tag)>``.

* The nonce is 96 random bits, fresh for every value (NIST SP 800-38D, 8.2.2:
  random nonces stay safe well below 2**32 encryptions under one key).
* The associated data is ``table|row id|column``, so a value copied into
  another row or column no longer authenticates.
* The key id (a short digest of the key) travels with each value, so a wrong
  key is recognised as such instead of surfacing as a bare authentication
  failure.

The key comes from ``Settings.secret_key`` (env ``OMNIROUTE_SECRET_KEY``) or
from ``<data_dir>/secret.key``, created on first start with ``O_EXCL`` and mode
0600.  No message here ever includes key material or plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
import time
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import SecretKeyError

KEY_FILE_NAME = "secret.key"
KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT_VERSION = "v1"

WRONG_KEY_MESSAGE = (
    "the secret key does not match this database; set OMNIROUTE_SECRET_KEY to the key "
    "used before or restore secret.key"
)

# A key file that another process has just created may still be empty for a
# moment; wait this many times this long for its contents before giving up.
_KEY_FILE_READ_TRIES = 50
_KEY_FILE_READ_PAUSE = 0.02


class Sealer:
    """Encrypts and decrypts stored secrets with one key.  Thread-safe."""

    __slots__ = ("_aead", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise SecretKeyError(f"the secret key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(key)
        self.key_id = key_id_for(key)

    def __repr__(self) -> str:
        return f"Sealer(key_id={self.key_id!r})"

    def seal(self, plaintext: str, aad: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), aad.encode("utf-8"))
        body = base64.b64encode(nonce + sealed).decode("ascii")
        return f"{FORMAT_VERSION}:{self.key_id}:{body}"

    def unseal(self, stored: str, aad: str) -> str:
        version, key_id, blob = _split(stored, aad)
        if version != FORMAT_VERSION:
            raise SecretKeyError(f"the stored secret for {aad} has an unknown format")
        if key_id != self.key_id:
            raise SecretKeyError(WRONG_KEY_MESSAGE)
        try:
            plain = self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode())
        except InvalidTag:
            raise SecretKeyError(
                f"the stored secret for {aad} failed authentication: it was altered or "
                "copied from another row"
            ) from None
        return plain.decode("utf-8")


def _split(stored: str, aad: str) -> tuple[str, str, bytes]:
    parts = stored.split(":", 2)
    if len(parts) != 3:
        raise SecretKeyError(f"the stored secret for {aad} is malformed")
    try:
        blob = base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError):
        raise SecretKeyError(f"the stored secret for {aad} is malformed") from None
    if len(blob) < NONCE_BYTES + 16:  # nonce + GCM tag at the least
        raise SecretKeyError(f"the stored secret for {aad} is malformed")
    return parts[0], parts[1], blob


def scrypt(secret: str, salt: bytes, *, n: int, r: int, p: int, length: int = 32) -> bytes:
    """A key stretched from a password or passphrase with scrypt (RFC 7914);
    the admin password's hash and an export's passphrase key both use it."""
    return hashlib.scrypt(
        secret.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * n * r + (1 << 20),  # scrypt needs 128 * n * r bytes, and a margin
        dklen=length,
    )


def key_id_for(key: bytes) -> str:
    """A short, non-secret name for a key (a truncated domain-separated digest)."""
    return hashlib.sha256(b"omniroute key id\x00" + key).hexdigest()[:12]


def decode_key(text: str, source: str) -> bytes:
    """Key bytes from their base64 text; ``source`` names where the text came from."""
    cleaned = text.strip()
    try:
        if "-" in cleaned or "_" in cleaned:
            key = base64.urlsafe_b64decode(cleaned)
        else:
            key = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise SecretKeyError(f"{source} does not hold a base64-encoded {KEY_BYTES}-byte key")
    return key


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def key_file_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE_NAME


def read_key_file(path: Path) -> bytes | None:
    """The key stored at ``path``; None when there is no such file."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise SecretKeyError(f"{path} is not a regular file")
    if info.st_mode & 0o077:
        mode = oct(stat.S_IMODE(info.st_mode))
        raise SecretKeyError(
            f"{path} is accessible to other users (mode {mode}); run: chmod 600 {path}"
        )
    for _ in range(_KEY_FILE_READ_TRIES):
        text = path.read_text(encoding="ascii", errors="replace")
        if text.strip():
            return decode_key(text, str(path))
        # Created a moment ago by another process that has not written it yet.
        time.sleep(_KEY_FILE_READ_PAUSE)
    raise SecretKeyError(f"{path} is empty; restore it or set OMNIROUTE_SECRET_KEY")


def create_key_file(path: Path) -> bytes:
    """Create a new random key at ``path`` (mode 0600) and return it; if another
    process created the file first, return that key instead.

    The key is written to a private temporary file (``O_EXCL``, 0600) that is
    then hard-linked to ``path``: link() fails if ``path`` exists, and a crash
    can never leave an empty or half-written key file under the real name.
    """
    key = os.urandom(KEY_BYTES)
    temp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    _write_new_file(temp, (encode_key(key) + "\n").encode("ascii"))
    try:
        os.link(temp, path)
    except FileExistsError:
        return _read_existing(path)
    except OSError:
        # Some filesystems have no hard links: create the file in place.
        return _create_in_place(path, key)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return key


def _create_in_place(path: Path, key: bytes) -> bytes:
    try:
        _write_new_file(path, (encode_key(key) + "\n").encode("ascii"))
    except FileExistsError:
        return _read_existing(path)
    _fsync_dir(path.parent)
    return key


def _read_existing(path: Path) -> bytes:
    existing = read_key_file(path)
    if existing is None:  # removed again in between: nothing sensible to do
        raise SecretKeyError(f"{path} appeared and vanished while starting")
    return existing


def _write_new_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    # Makes the new directory entry itself durable (POSIX fsync on a directory).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_key(data_dir: Path, env_key: str | None, *, has_encrypted_data: bool) -> bytes:
    """The key to use: the env/settings key if given, else the key file.

    A missing key file is created only when the database holds nothing
    encrypted yet; otherwise a fresh key could never decrypt what is there.
    """
    if env_key:
        return decode_key(env_key, "OMNIROUTE_SECRET_KEY")
    path = key_file_path(data_dir)
    key = read_key_file(path)
    if key is not None:
        return key
    if has_encrypted_data:
        raise SecretKeyError(
            f"{path} is missing but the database holds encrypted secrets; restore "
            "secret.key or set OMNIROUTE_SECRET_KEY to the key used before"
        )
    return create_key_file(path)
