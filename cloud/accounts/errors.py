"""Errors the account and access checks raise; the API maps each to one HTTP status."""

from cloud.errors import CloudError


class AuthError(CloudError):
    """No valid credentials (401)."""


class ForbiddenError(CloudError):
    """The caller's role may not use this resource at all (403)."""


class NotFoundError(CloudError):
    """No such resource, or not one the caller may see (404: ids can't be probed)."""


class ConflictError(CloudError):
    """The change clashes with stored data (409)."""


class InvalidInputError(CloudError):
    """Input passed the schema but not a rule that needs the store (422)."""


class RateLimitedError(CloudError):
    """Too many failed logins (429); `retry_after_s` says when to try again."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ConsentRequiredError(ConflictError):
    """The participant has not consented to the data this would record (409)."""
