import time
import uuid

from pricepilot.ids import uuid7_hex


def test_uuid7_layout_uniqueness_and_time_order() -> None:
    ids = [uuid7_hex() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    for s in ids[:50]:
        u = uuid.UUID(s)
        assert u.version == 7 and u.variant == uuid.RFC_4122 and u.hex == s
    # the leading 48 bits are the creation time in milliseconds
    ms = int(ids[0][:12], 16)
    assert abs(ms - time.time_ns() // 1_000_000) < 5_000
    time.sleep(0.002)
    later = uuid7_hex()
    assert all(s < later for s in ids)
