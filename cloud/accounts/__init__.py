"""Accounts: password hashing, login tokens, roles, who may see which senior, the audit log."""

from cloud.accounts.access import Principal
from cloud.accounts.passwords import Passwords
from cloud.accounts.service import authenticate, create_account

__all__ = ["Passwords", "Principal", "authenticate", "create_account"]
