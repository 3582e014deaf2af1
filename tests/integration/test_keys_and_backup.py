"""Key rotation retires an old key; backup → drop → restore gives back every document, a
verified audit chain and working secrets."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID, uuid4

import pyotp
import pytest

from tests.conftest import Servers, create_database, drop_database, fresh_database
from tests.helpers import database_dump
from vendor_risk import audit
from vendor_risk.audit.models import SYSTEM, Actor
from vendor_risk.auth import service as auth_service
from vendor_risk.clients.identity import digest, seal_number
from vendor_risk.db import connect, migrate
from vendor_risk.documents import CLIENT_ID_NUMBER, PDF, TOTP_SECRET, open_text, read_document, store_document
from vendor_risk.notify.models import ChatChannelCreate
from vendor_risk.notify.outbox import Email, enqueue_email, open_email
from vendor_risk.notify.repository import (
    insert_chat_channel,
    insert_webhook,
    open_chat_secret,
    open_chat_url,
    open_webhook_secret,
)
from vendor_risk.settings import parse_data_keys

K1 = f"k1:{base64.b64encode(b'1' * 32).decode()}"
K2 = f"k2:{base64.b64encode(b'2' * 32).decode()}"


def cli(url: str, keys: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDOR_RISK_")}
    env["VENDOR_RISK_DATABASE_URL"] = url
    env["VENDOR_RISK_DATA_KEYS"] = keys
    return subprocess.run(
        [sys.executable, "-m", "vendor_risk", *args], env=env, capture_output=True, text=True, timeout=120
    )


def pdf(n: int) -> bytes:
    return b"%PDF-1.7\n" + f"document {n} ".encode() * (n + 1) + b"\n%%EOF\n"


class World:
    def __init__(self, url: str) -> None:
        self.url = url
        self.documents: dict[UUID, str] = {}
        self.emails: list[UUID] = []
        self.webhooks: list[tuple[UUID, str]] = []
        self.chats: list[tuple[UUID, str, str | None]] = []
        self.totp: list[tuple[UUID, str]] = []
        self.clients: list[tuple[UUID, str]] = []


@pytest.fixture
async def world(servers: Servers) -> AsyncIterator[World]:
    """A database of its own whose values are sealed under k1 (and a few from before sealing)."""
    async with fresh_database(servers.admin_database_url) as url:
        world = World(url)
        conn = await connect(url, data_keys=parse_data_keys("t", K1))
        try:
            await migrate(conn)
            for n in range(5):
                async with conn.transaction():
                    info = await store_document(
                        conn,
                        key=conn.data_keys[0],
                        data=pdf(n),
                        filename=f"合同-{n}.pdf",
                        content_type=PDF,
                        purpose="evidence" if n % 2 else "agreement",
                        actor=SYSTEM,
                    )
                    world.documents[info.id] = info.sha256
                    await audit.record(
                        conn,
                        actor=Actor(id=None, label="t"),
                        action="doc.stored",
                        entity_type="document",
                        entity_id=info.id,
                        after={"n": n, "big": 1e16},
                    )
            for n in range(3):
                message = await enqueue_email(
                    conn,
                    topic="t",
                    email=Email(to=f"p{n}@example.com", subject="链接", text=f"https://x/q/secret-{n}"),
                )
                assert message is not None
                world.emails.append(message)
            webhook = await insert_webhook(
                conn,
                url="https://example.com/h",
                events=["*"],
                secret="whsec_sealed",
                description="",
                created_by=None,
            )
            world.webhooks.append((webhook.id, "whsec_sealed"))
            # Written before sealing existed: an email and a webhook secret in the clear.
            legacy = await conn.fetchval(
                "INSERT INTO outbox (channel, topic, payload) VALUES ('email', 't', $1) RETURNING id",
                {"to": "old@example.com", "subject": "旧", "text": "https://x/q/legacy", "lang": "zh-CN"},
            )
            world.emails.append(legacy)
            old_hook = await conn.fetchval(
                "INSERT INTO webhooks (url, events, secret)"
                " VALUES ('https://example.com/o', '{*}', 'whsec_old') RETURNING id"
            )
            world.webhooks.append((old_hook, "whsec_old"))
            # Chat robots: one sealed by the service, one in the clear from before sealing.
            channel = await insert_chat_channel(
                conn,
                ChatChannelCreate(
                    platform="dingtalk",
                    name="风险群",
                    url="https://oapi.dingtalk.com/robot/send?access_token=tok_sealed",
                    events=["incident.opened"],
                    secret="SECsealed",
                ),
                None,
            )
            world.chats.append((channel.id, "access_token=tok_sealed", "SECsealed"))
            old_chat = await conn.fetchval(
                "INSERT INTO chat_channels (platform, name, url, events)"
                " VALUES ('wecom', '旧群', $1, '{incident.opened}') RETURNING id",
                "https://qyapi.weixin.qq.com/send?key=tok_old",
            )
            world.chats.append((old_chat, "key=tok_old", None))
            # TOTP secrets: one enrolled through the service (sealed), one from before sealing.
            sealed_user, clear_user = [
                await conn.fetchval(
                    "INSERT INTO users (email, name, role) VALUES ($1, 'T', 'admin') RETURNING id", email
                )
                for email in ("sealed@example.com", "clear@example.com")
            ]
            secret = await auth_service.enrolment_secret(conn, sealed_user)
            assert await auth_service.confirm_enrolment(conn, SYSTEM, sealed_user, pyotp.TOTP(secret).now())
            world.totp.append((sealed_user, secret))
            await conn.execute(
                "UPDATE users SET totp_secret = 'JBSWY3DPEHPK3PXP', totp_enabled_at = now() WHERE id = $1",
                clear_user,
            )
            world.totp.append((clear_user, "JBSWY3DPEHPK3PXP"))
            # Client ID numbers: one sealed as the import seals it, one from before sealing.
            sealed_client = uuid4()
            await conn.execute(
                "INSERT INTO clients (id, name, kind, id_number_key_id, id_number_sealed, id_number_digest)"
                " VALUES ($1, '张三', 'person', $2, $3, $4)",
                sealed_client,
                *seal_number(conn.data_keys, sealed_client, "110105194912310021"),
            )
            world.clients.append((sealed_client, "110105194912310021"))
            clear_client = await conn.fetchval(
                "INSERT INTO clients (name, kind, id_number) VALUES ('李四', 'person', '11010519491231002X')"
                " RETURNING id"
            )
            world.clients.append((clear_client, "11010519491231002X"))
        finally:
            await conn.close()
        yield world


async def opens_with(url: str, keys: str, world: World, *, all_sealed: bool = True) -> None:
    """Every document, email and webhook secret opens with ``keys`` alone (and, after a
    rotation, none is left in the clear)."""
    data_keys = parse_data_keys("t", keys)
    conn = await connect(url)
    try:
        for document_id, sha256 in world.documents.items():
            found = await read_document(conn, data_keys, document_id)
            assert found is not None
            assert hashlib.sha256(found[1]).hexdigest() == sha256
        for message_id in world.emails:
            row = await conn.fetchrow(
                "SELECT payload, key_id, nonce, sealed FROM outbox WHERE id = $1", message_id
            )
            if all_sealed:
                assert row["sealed"] is not None
                assert "text" not in row["payload"]
            email = open_email(
                data_keys, message_id, row["payload"], row["key_id"], row["nonce"], row["sealed"]
            )
            assert "/q/" in email.text
        for webhook_id, secret in world.webhooks:
            row = await conn.fetchrow(
                "SELECT secret, secret_key_id, secret_nonce, secret_sealed FROM webhooks WHERE id = $1",
                webhook_id,
            )
            if all_sealed:
                assert row["secret"] is None
            assert open_webhook_secret(data_keys, webhook_id, *row.values()) == secret
        for channel_id, token, chat_secret in world.chats:
            row = await conn.fetchrow("SELECT * FROM chat_channels WHERE id = $1", channel_id)
            if all_sealed:
                assert row["url"] is None
                assert row["secret"] is None
            url = open_chat_url(data_keys, channel_id, row["url"], row["url_key_id"], row["url_sealed"])
            assert url is not None
            assert url.endswith(token)
            opened = open_chat_secret(
                data_keys,
                channel_id,
                row["secret"],
                row["secret_key_id"],
                row["secret_nonce"],
                row["secret_sealed"],
            )
            assert opened == chat_secret
        for user_id, totp_secret in world.totp:
            row = await conn.fetchrow("SELECT * FROM users WHERE id = $1", user_id)
            if all_sealed:
                assert row["totp_secret"] is None
            if row["totp_sealed"] is not None:
                assert open_text(data_keys, row["totp_key_id"], TOTP_SECRET, user_id, row["totp_sealed"]) == (
                    totp_secret
                )
            else:
                assert row["totp_secret"] == totp_secret
        for client_id, number in world.clients:
            row = await conn.fetchrow("SELECT * FROM clients WHERE id = $1", client_id)
            if all_sealed:
                assert row["id_number"] is None
            if row["id_number_sealed"] is not None:
                key_id = row["id_number_key_id"]
                assert (
                    open_text(data_keys, key_id, CLIENT_ID_NUMBER, client_id, row["id_number_sealed"])
                    == number
                )
                # Found by its digest under the key that sealed it.
                key = next(k for k in data_keys if k.key_id == key_id)
                assert row["id_number_digest"] == digest(key, number)
            else:
                assert row["id_number"] == number
    finally:
        await conn.close()


async def test_rotation_re_seals_everything_so_the_old_key_can_go(world: World) -> None:
    rotated = await asyncio.to_thread(cli, world.url, f"{K2},{K1}", "keys", "rotate", "--batch", "2")
    assert rotated.returncode == 0, rotated.stderr
    assert "documents and evidence files: 5" in rotated.stdout
    assert "outbox payloads:              4" in rotated.stdout
    assert "webhook secrets:              2" in rotated.stdout
    assert "chat robots:                  2" in rotated.stdout
    assert "second-factor (TOTP) secrets: 2" in rotated.stdout
    assert "client ID numbers:            2" in rotated.stdout
    assert "they can be removed" in rotated.stdout
    # Nothing is left in the clear, and k2 alone opens everything.
    conn = await connect(world.url)
    try:
        dumped = await conn.fetchval(
            "SELECT string_agg(payload::text || coalesce(secret, ''), ' ') FROM outbox, webhooks"
        )
        for clear in ("secret-", "legacy", "whsec_"):
            assert clear not in dumped
    finally:
        await conn.close()
    dump = await database_dump(world.url)
    for clear in ("tok_sealed", "tok_old", "SECsealed", "JBSWY3DPEHPK3PXP", world.totp[0][1]):
        assert clear not in dump
    for _, number in world.clients:
        assert number not in dump
    await opens_with(world.url, K2, world)
    # Run again (as after an interruption): nothing more to do.
    again = await asyncio.to_thread(cli, world.url, f"{K2},{K1}", "keys", "rotate")
    assert again.returncode == 0, again.stderr
    assert "documents and evidence files: 0" in again.stdout
    # Without the key still in use, rotation stops and says which key it needs.
    fresh = await asyncio.to_thread(cli, world.url, K1, "keys", "rotate")
    assert fresh.returncode == 1
    assert "'k2' is not configured" in fresh.stderr


async def test_backup_drop_restore_verify_and_decrypt_every_document(
    world: World, servers: Servers, tmp_path: Path
) -> None:
    file = tmp_path / "vendor-risk.backup"
    taken = await asyncio.to_thread(cli, world.url, K1, "backup", str(file))
    assert taken.returncode == 0, taken.stderr
    assert "it needs data key(s) k1" in taken.stdout
    name = world.url.rsplit("/", 1)[1]
    await drop_database(servers.admin_database_url, name)

    # A configuration without the key the backup needs is refused before anything is done.
    target, target_url = await create_database(servers.admin_database_url)
    try:
        refused = await asyncio.to_thread(cli, target_url, K2, "restore", str(file))
        assert refused.returncode == 1
        assert "needs data key(s) k1" in refused.stderr
        restored = await asyncio.to_thread(cli, target_url, f"{K2},{K1}", "restore", str(file))
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "audit chain intact up to the backup's head" in restored.stdout
        verified = await asyncio.to_thread(cli, target_url, K1, "audit", "verify")
        assert verified.returncode == 0, verified.stdout
        assert "6 events verified" in verified.stdout  # 5 documents, 1 enrolment
        await opens_with(target_url, K1, world, all_sealed=False)
        # Restoring over a database that has tables is refused.
        again = await asyncio.to_thread(cli, target_url, K1, "restore", str(file))
        assert again.returncode == 1
        assert "not empty" in again.stderr
        # The restored database still refuses changes to its audit trail.
        conn = await connect(target_url)
        try:
            with pytest.raises(Exception, match="append-only"):
                await conn.execute("DELETE FROM audit_events")
        finally:
            await conn.close()
    finally:
        await drop_database(servers.admin_database_url, target)


async def test_start_up_seals_the_secrets_left_in_the_clear(world: World) -> None:
    """Rows from before sealing (a webhook secret, a chat robot, a TOTP secret, a client's
    ID number) are sealed
    by the next start (`migrate` here, as `serve` and `up` do), without an operator."""
    before = await database_dump(world.url)
    assert "tok_old" in before
    assert "11010519491231002X" in before
    assert "JBSWY3DPEHPK3PXP" in before
    migrated = await asyncio.to_thread(cli, world.url, K1, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "sealed 4 secret(s) under data key 'k1'" in migrated.stdout
    dump = await database_dump(world.url)
    for clear in ("whsec_old", "tok_old", "JBSWY3DPEHPK3PXP", "11010519491231002X"):
        assert clear not in dump
    again = await asyncio.to_thread(cli, world.url, K1, "migrate")
    assert "sealed" not in again.stdout
