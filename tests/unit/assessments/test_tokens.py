"""Portal link tokens: 256 bits, stored only as SHA-256, recognised by shape."""

import hashlib

from vendor_risk.assessments.tokens import generate_token, hash_token, looks_like_token, token_fingerprint


def test_a_token_carries_256_bits_and_is_url_safe() -> None:
    tokens = {generate_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert len(token) == 43  # 32 bytes in unpadded base64url
        assert looks_like_token(token)


def test_only_the_sha256_is_stored() -> None:
    token = generate_token()
    assert hash_token(token) == hashlib.sha256(token.encode()).digest()
    assert len(hash_token(token)) == 32


def test_malformed_tokens_are_recognised_without_a_lookup() -> None:
    for value in ("", "abc", "x" * 42, "x" * 44, "a" * 42 + "/", "../../etc/passwd", "<script>" * 6):
        assert not looks_like_token(value)


def test_the_rate_limit_key_does_not_reveal_the_token() -> None:
    token = generate_token()
    fingerprint = token_fingerprint(token)
    assert token not in fingerprint
    assert fingerprint == token_fingerprint(token)
    assert fingerprint != token_fingerprint(generate_token())
