from __future__ import annotations

import base64
import os
import stat
import threading
from pathlib import Path

import pytest

from omniroute.errors import SecretKeyError
from omniroute.settings import Settings
from omniroute.store import Store, account_aad
from omniroute.store.crypto import (
    WRONG_KEY_MESSAGE,
    Sealer,
    create_key_file,
    decode_key,
    read_key_file,
)

from .helpers import all_bytes, raw_execute, raw_query

SECRET = "sk-live-THIS-IS-THE-PLAINTEXT-0123456789"


def _key() -> bytes:
    return os.urandom(32)


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


# -- the sealer ----------------------------------------------------------------


def test_seal_round_trip_with_fresh_nonces() -> None:
    sealer = Sealer(_key())
    first = sealer.seal(SECRET, "accounts|1|api_key")
    second = sealer.seal(SECRET, "accounts|1|api_key")
    assert first != second  # a new nonce every time
    assert first.startswith(f"v1:{sealer.key_id}:")
    assert SECRET not in first
    assert sealer.unseal(first, "accounts|1|api_key") == SECRET
    assert sealer.unseal(second, "accounts|1|api_key") == SECRET


def test_associated_data_binds_value_to_its_row_and_column() -> None:
    sealer = Sealer(_key())
    stored = sealer.seal(SECRET, "accounts|1|api_key")
    for other in ("accounts|2|api_key", "accounts|1|label", "providers|1|api_key"):
        with pytest.raises(SecretKeyError) as info:
            sealer.unseal(stored, other)
        assert SECRET not in str(info.value)
        assert other in str(info.value)


def test_tampered_or_malformed_values_are_refused() -> None:
    sealer = Sealer(_key())
    stored = sealer.seal(SECRET, "a|1|b")
    prefix, body = stored.rsplit(":", 1)
    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 1
    tampered = f"{prefix}:{base64.b64encode(bytes(raw)).decode()}"
    for bad in (tampered, "v1:abc", "plaintext", f"{prefix}:!!!", "v9" + stored[2:]):
        with pytest.raises(SecretKeyError):
            sealer.unseal(bad, "a|1|b")


def test_value_sealed_with_another_key_names_the_key_problem() -> None:
    stored = Sealer(_key()).seal(SECRET, "a|1|b")
    with pytest.raises(SecretKeyError, match="does not match this database"):
        Sealer(_key()).unseal(stored, "a|1|b")


def test_sealer_repr_shows_no_key() -> None:
    key = _key()
    text = repr(Sealer(key))
    assert _b64(key) not in text and key.hex() not in text


@pytest.mark.parametrize("text", ["", "short", _b64(b"x" * 31), _b64(b"x" * 33), "***"])
def test_decode_key_rejects_bad_keys(text: str) -> None:
    with pytest.raises(SecretKeyError, match="OMNIROUTE_SECRET_KEY does not hold"):
        decode_key(text, "OMNIROUTE_SECRET_KEY")


def test_decode_key_accepts_both_base64_alphabets() -> None:
    key = bytes(range(200, 232))  # encodes with '+' and '/' in standard base64
    assert decode_key(_b64(key), "x") == key
    assert decode_key(base64.urlsafe_b64encode(key).decode() + "\n", "x") == key


# -- the key file --------------------------------------------------------------


def test_key_file_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    key = create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path) == key
    assert create_key_file(path) == key  # exists already: the existing key wins
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]  # no temp left


def test_racing_key_file_creators_agree(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    results: list[bytes] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait(timeout=5)
        results.append(create_key_file(path))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(results) == 8 and len(set(results)) == 1
    assert read_key_file(path) == results[0]


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    key = create_key_file(path)
    path.chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600") as info:
        read_key_file(path)
    assert _b64(key) not in str(info.value)


def test_key_file_with_bad_contents_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, b"not-a-key-at-all\n")
    os.close(fd)
    with pytest.raises(SecretKeyError, match="does not hold a base64-encoded 32-byte key") as info:
        read_key_file(path)
    assert "not-a-key-at-all" not in str(info.value)


# -- the store and its key -------------------------------------------------------

pytest_anyio = pytest.mark.anyio


@pytest_anyio
async def test_store_creates_private_key_file_and_data_dir(settings: Settings) -> None:
    async with Store(settings):
        pass
    data_dir = Path(settings.data_dir)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "secret.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "omniroute.db").stat().st_mode) == 0o600
    assert read_key_file(data_dir / "secret.key") is not None


@pytest_anyio
async def test_env_key_is_used_instead_of_a_file(settings: Settings) -> None:
    key = _key()
    with_env = settings.replace(secret_key=_b64(key))
    async with Store(with_env) as store:
        provider = await store.upsert_provider("p", "openai", "https://p.test")
        account = await store.add_account(provider.id, SECRET)
        stored = raw_query(store.db_path, "SELECT api_key FROM accounts")[0][0]
    assert not (Path(settings.data_dir) / "secret.key").exists()
    # The stored value opens with exactly that key.
    assert Sealer(key).unseal(stored, account_aad(account.id)) == SECRET
    async with Store(with_env) as again:
        assert (await again.snapshot()).accounts[0].api_key == SECRET
    # Without the env key there is no key at all, while encrypted data exists.
    with pytest.raises(SecretKeyError, match="missing") as info:
        await Store(settings).open()
    assert "OMNIROUTE_SECRET_KEY" in str(info.value)
    assert not (Path(settings.data_dir) / "secret.key").exists()  # not silently replaced


@pytest_anyio
async def test_wrong_key_is_reported_clearly(settings: Settings) -> None:
    async with Store(settings) as store:
        provider = await store.upsert_provider("p", "openai", "https://p.test")
        await store.add_account(provider.id, SECRET)
    wrong = _b64(_key())
    with pytest.raises(SecretKeyError) as info:
        await Store(settings.replace(secret_key=wrong)).open()
    assert str(info.value) == WRONG_KEY_MESSAGE
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert wrong not in str(info.value)


@pytest_anyio
async def test_wrong_key_detected_even_without_accounts(settings: Settings) -> None:
    async with Store(settings):
        pass  # only the canary is encrypted
    with pytest.raises(SecretKeyError, match="does not match this database"):
        await Store(settings.replace(secret_key=_b64(_key()))).open()


@pytest_anyio
async def test_missing_key_file_with_encrypted_data_fails(settings: Settings) -> None:
    async with Store(settings) as store:
        provider = await store.upsert_provider("p", "openai", "https://p.test")
        await store.add_account(provider.id, SECRET)
    key_path = Path(settings.data_dir) / "secret.key"
    key_path.unlink()
    with pytest.raises(SecretKeyError, match="secret.key is missing"):
        await Store(settings).open()
    assert not key_path.exists()


@pytest_anyio
async def test_bad_key_file_stops_the_store(settings: Settings) -> None:
    async with Store(settings):
        pass
    key_path = Path(settings.data_dir) / "secret.key"
    key_path.chmod(0o640)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        await Store(settings).open()


@pytest_anyio
async def test_api_key_encrypted_in_file_and_plain_in_snapshot(settings: Settings) -> None:
    async with Store(settings) as store:
        provider = await store.upsert_provider("p", "openai", "https://p.test")
        account = await store.add_account(provider.id, SECRET)
        assert account.api_key == SECRET
        snap = await store.snapshot()
        assert snap.accounts_for(provider.id)[0].api_key == SECRET
        stored = raw_query(store.db_path, "SELECT api_key FROM accounts")[0][0]
        assert stored.startswith("v1:") and SECRET not in stored
        assert store.unseal(stored, account_aad(account.id)) == SECRET


@pytest_anyio
async def test_ciphertext_copied_to_another_row_fails(settings: Settings) -> None:
    async with Store(settings) as store:
        provider = await store.upsert_provider("p", "openai", "https://p.test")
        first = await store.add_account(provider.id, SECRET)
        second = await store.add_account(provider.id, "another-key")
        raw_execute(
            store.db_path,
            "UPDATE accounts SET api_key = (SELECT api_key FROM accounts WHERE id = ?) "
            "WHERE id = ?",
            (first.id, second.id),
        )
        with pytest.raises(SecretKeyError) as info:
            await store.snapshot()
        assert account_aad(second.id) in str(info.value)
        assert SECRET not in str(info.value)


@pytest_anyio
async def test_plaintext_never_in_reprs_or_files(settings: Settings) -> None:
    async with Store(settings) as store:
        provider = await store.upsert_provider("p", "openai", "https://p.test")
        account = await store.add_account(provider.id, SECRET, label="main")
        snap = await store.snapshot()
        texts = [repr(account), str(account), repr(snap), repr(snap.accounts), repr(store)]
        for text in texts:
            assert SECRET not in text
        assert "main" in repr(account)  # the rest of the record is still shown
        await store.set_account_enabled(account.id, False)  # more writes, more WAL frames
    settings_repr = repr(settings.replace(secret_key=_b64(_key())))
    assert "secret_key" not in settings_repr
    data = all_bytes(Path(settings.data_dir))
    assert SECRET.encode() not in data
    assert SECRET.encode("utf-16-le") not in data
