"""Tokens at rest: Fernet keys or long passphrases, rotation by comma list, clear refusals."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from services.people.token_cipher import TokenCipher, TokenCipherError, fernet_keys

TOKEN = "xoxb-1234-5678-abcdefghijklmnop"
PASSPHRASE = "correct horse battery staple and thirty-two+"


def test_a_fernet_key_round_trips_and_the_ciphertext_hides_the_token() -> None:
    cipher = TokenCipher(Fernet.generate_key().decode())
    stored = cipher.encrypt(TOKEN)
    assert TOKEN not in stored and "xoxb" not in stored
    assert cipher.decrypt(stored) == TOKEN
    assert cipher.encrypt(TOKEN) != stored  # a fresh IV each time


def test_a_long_passphrase_is_stretched_into_a_key_deterministically() -> None:
    stored = TokenCipher(PASSPHRASE).encrypt(TOKEN)
    assert TokenCipher(PASSPHRASE).decrypt(stored) == TOKEN


def test_a_different_key_cannot_open_a_token_and_says_what_to_do() -> None:
    stored = TokenCipher(PASSPHRASE).encrypt(TOKEN)
    with pytest.raises(TokenCipherError, match="CONNECT_ENCRYPTION_KEY"):
        TokenCipher(Fernet.generate_key().decode()).decrypt(stored)


def test_rotation_new_key_first_old_key_still_opens_old_tokens() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored_under_old = TokenCipher(old).encrypt(TOKEN)
    rotating = TokenCipher(f"{new},{old}")
    assert rotating.decrypt(stored_under_old) == TOKEN
    rotated = rotating.rotate(stored_under_old)
    assert TokenCipher(new).decrypt(rotated) == TOKEN
    with pytest.raises(TokenCipherError):
        TokenCipher(old).decrypt(rotating.encrypt(TOKEN))


@pytest.mark.parametrize("bad", ["", " , ", "short", "x" * 31])
def test_keys_that_are_neither_fernet_keys_nor_long_passphrases_are_refused(bad: str) -> None:
    with pytest.raises(TokenCipherError):
        fernet_keys(bad)


def test_the_refusal_names_the_key_position_but_never_its_value() -> None:
    with pytest.raises(TokenCipherError) as refused:
        fernet_keys(f"{Fernet.generate_key().decode()},tooshort-secret")
    assert "key 2" in str(refused.value)
    assert "tooshort-secret" not in str(refused.value)
