-- Chat alerts (issue 15): group robots of 企业微信 (WeCom), 钉钉 (DingTalk) and 飞书 (Feishu /
-- Lark) subscribed to event types, delivered through the outbox like webhooks.
CREATE TABLE chat_channels (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    platform text NOT NULL CHECK (platform IN ('wecom', 'dingtalk', 'feishu')),
    name text NOT NULL,
    -- The robot's webhook address as the platform shows it (its key or token included).
    url text NOT NULL,
    -- DingTalk's and Feishu's signing secret ("加签" / "签名校验"); WeCom robots have none.
    secret text,
    events text[] NOT NULL,
    -- The language its messages are written in.
    lang text NOT NULL DEFAULT 'zh-CN' CHECK (lang IN ('zh-CN', 'en')),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES users (id),
    disabled_at timestamptz,
    CHECK (platform <> 'wecom' OR secret IS NULL)
);
CREATE INDEX chat_channels_events_idx ON chat_channels USING gin (events) WHERE disabled_at IS NULL;
CREATE INDEX chat_channels_list_idx ON chat_channels (created_at DESC, id DESC) WHERE disabled_at IS NULL;

ALTER TABLE outbox DROP CONSTRAINT outbox_channel_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_channel_check CHECK (channel IN ('email', 'webhook', 'chat'));
ALTER TABLE outbox ADD COLUMN chat_channel_id uuid REFERENCES chat_channels (id);
