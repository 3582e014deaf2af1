"""The arq connection: Redis settings and the msgpack job serializer."""

from __future__ import annotations

from typing import Any

import msgspec
from arq.connections import ArqRedis, RedisSettings, create_pool

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()


def job_serializer(value: dict[str, Any]) -> bytes:
    return _encoder.encode(value)


def job_deserializer(data: bytes) -> dict[str, Any]:
    result: dict[str, Any] = _decoder.decode(data)
    return result


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


async def create_arq_pool(url: str) -> ArqRedis:
    return await create_pool(
        redis_settings(url), job_serializer=job_serializer, job_deserializer=job_deserializer
    )
