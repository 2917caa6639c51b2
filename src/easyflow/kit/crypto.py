"""Credentials at rest (model API keys, bot tokens, webhook secrets), encrypted with rotating Fernet keys."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from easyflow.config import Settings


class SecretBox:
    """Encrypts with the newest key, decrypts with any; `rotate` re-encrypts an old token with the newest."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(settings.fernet_keys())

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as error:
            raise ValueError("a stored credential cannot be decrypted with the configured keys") from error

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode()).decode()
