from vendor_risk.auth.keys import KEY_PREFIX, display_prefix, generate_key, hash_key, looks_like_key


def test_keys_are_long_random_and_recognisable() -> None:
    keys = {generate_key() for _ in range(100)}
    assert len(keys) == 100
    for key in keys:
        assert key.startswith(KEY_PREFIX)
        # 32 random bytes in URL-safe base64: 43 characters, 256 bits.
        assert len(key) - len(KEY_PREFIX) == 43
        assert looks_like_key(key)


def test_hash_is_sha256_and_stable() -> None:
    key = generate_key()
    assert hash_key(key) == hash_key(key)
    assert len(hash_key(key)) == 32
    assert hash_key(key) != hash_key(key + "x")


def test_display_prefix_reveals_little() -> None:
    key = generate_key()
    assert display_prefix(key) == key[:10]
    assert not looks_like_key(display_prefix(key))
    assert not looks_like_key("Bearer something")
