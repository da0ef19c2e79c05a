"""Task messages sealed with a key that the controller and its workers share.

A RunSpec carries the run's secrets; in the broker (Redis) it is a Fernet token (AES-128
in CBC mode with an HMAC-SHA256, from the maintained `cryptography` package), so nobody
who reads Redis sees a secret, and a message not sealed with the key, written into Redis
by anyone else, runs nothing on a worker. The key is HOME/worker.key (made by the
controller, mode 0600); a worker is given it with --key-file or GITLINE_WORKER_KEY.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "worker.key"


class SealError(Exception):
    """A key that cannot be read, or a message this key did not seal."""


def home_key(home: Path) -> bytes:
    """HOME/worker.key, made the first time (0600; never replaced once there)."""
    path = Path(home) / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key(path)
    with os.fdopen(fd, "wb") as out:
        out.write(Fernet.generate_key() + b"\n")
    return read_key(path)


def read_key(path: Path) -> bytes:
    try:
        return check_key(Path(path).read_bytes().strip(), str(path))
    except OSError as err:
        raise SealError(f"cannot read the worker key {path}: {err.strerror}") from err


def check_key(key: bytes, where: str) -> bytes:
    try:
        Fernet(key)
    except (ValueError, TypeError) as err:
        raise SealError(f"{where} is not a worker key (the controller's HOME/{KEY_FILE})") \
            from err
    return key


def seal(text: str, key: bytes) -> str:
    return Fernet(key).encrypt(text.encode("utf-8")).decode("ascii")


def unseal(token: str, key: bytes) -> str:
    try:
        return Fernet(key).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError) as err:
        raise SealError("the task was not sealed with this worker's key (give the worker "
                        f"the controller's HOME/{KEY_FILE}); nothing was run") from err
