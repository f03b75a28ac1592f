"""Notifications: channel plugins (DingTalk, WeCom, Feishu, e-mail, in-app) and a durable outbox.

See docs/notifications.md. Other domains build a `Message` and `enqueue` it in their own
transaction; `NotificationWorker` delivers it.
"""

from yuqing.notify.channels import (
    Channel,
    ChannelUnavailable,
    DeliveryError,
    NotifyError,
    Receipt,
    channel_status,
    get_channel,
    register,
)
from yuqing.notify.messages import Level, Message, facts_of, neutralise_markdown
from yuqing.notify.models import Notification, NotificationAttempt, NotificationStatus
from yuqing.notify.outbox import (
    DeliveryCounts,
    NotificationWorker,
    cancel,
    cancel_subject,
    deliver_due,
    delivery_log,
    enqueue,
    inbox,
    list_notifications,
    mark_read,
    reclaim_abandoned,
    requeue,
    unread_count,
)

__all__ = [
    "Channel",
    "ChannelUnavailable",
    "DeliveryCounts",
    "DeliveryError",
    "Level",
    "Message",
    "Notification",
    "NotificationAttempt",
    "NotificationStatus",
    "NotificationWorker",
    "NotifyError",
    "Receipt",
    "cancel",
    "cancel_subject",
    "channel_status",
    "deliver_due",
    "delivery_log",
    "enqueue",
    "facts_of",
    "get_channel",
    "inbox",
    "list_notifications",
    "mark_read",
    "neutralise_markdown",
    "reclaim_abandoned",
    "register",
    "requeue",
    "unread_count",
]
