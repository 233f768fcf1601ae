"""Notices: e-mails and group-robot messages, planned from the ledger, queued in its outbox, sent once.

The door: `plan` (what is due to whom: a return sent back, a correction judged, a return waiting
for review, reminders before a deadline, 催报 after it, the daily digest) queues rows in the
ledger's `notices` table, in the transaction of what caused them where there is one; `Sender`
sends what is queued, retrying with backoff, from a thread of the serving process, so a slow or
unreachable server delays notices and nothing else.
"""
