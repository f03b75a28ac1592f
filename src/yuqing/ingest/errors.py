"""Errors of the ingest domain; messages are shown to users as they are."""


class IngestError(Exception):
    """Base of the ingest domain's errors."""


class SourceNotFound(IngestError):
    def __init__(self, ref: str | int) -> None:
        super().__init__(f"找不到信息源 {ref}")


class PostNotFound(IngestError):
    def __init__(self, post_id: int) -> None:
        super().__init__(f"找不到信息 {post_id}")


class InvalidSource(IngestError):
    """A source's settings are wrong (an unknown kind, a bad schedule, a missing URL)."""


class FileTooLarge(IngestError):
    """A file over the import limit, refused before it is read (its run and dead letter say so)."""


class WebhookAuthError(IngestError):
    """A webhook delivery without the source's token."""


class WebhookTooLarge(IngestError):
    """A webhook delivery with more posts than one request may carry (`webhook_max_items`)."""


class WebhookUnreadable(IngestError):
    """A webhook delivery that is not JSON at all: kept as evidence with a dead letter, and the
    sender is answered 400 with the reason (a 200 would tell it all went well)."""
