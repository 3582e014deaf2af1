import base64

import msgspec

from vendor_risk.assessments.portal import csrf_secret
from vendor_risk.settings import Settings, parse_data_keys


def test_csrf_secrets_come_from_the_session_secret_not_the_data_keys() -> None:
    one = Settings(
        session_secret="s" * 40, data_keys=parse_data_keys("k", f"a:{base64.b64encode(b'a' * 32).decode()}")
    )
    rotated = msgspec.structs.replace(
        one, data_keys=parse_data_keys("k", f"b:{base64.b64encode(b'b' * 32).decode()}")
    )
    # Rotating the data keys keeps every open form's token valid …
    assert csrf_secret(one) == csrf_secret(rotated)
    assert csrf_secret(one, "staff") == csrf_secret(rotated, "staff")
    # … each set of pages has its own, and another session secret gives another.
    assert csrf_secret(one) != csrf_secret(one, "staff")
    assert csrf_secret(one) != csrf_secret(msgspec.structs.replace(one, session_secret="t" * 40))
