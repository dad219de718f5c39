"""Notifications: the bell, e-mail, SMS and webhooks of a city (ARCHITECTURE §2, issue 5).

Modules declare ``Message``s and, in their event consumers, call ``send`` with the people to tell;
the core words, dedupes, stores, pushes and delivers. See dispatch.py and delivery.py.
"""

from kotalive.notify.dispatch import Sent, send
from kotalive.notify.messages import Message, Recipient, Wording

__all__ = ["Message", "Recipient", "Sent", "Wording", "send"]
