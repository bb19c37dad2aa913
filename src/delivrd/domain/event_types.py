"""The kinds of event delivrd forwards (docs/forwarding.md): named here, below everything that must know them
(the forwarder, the live feed, erasure dropping queued events)."""

REPORT_DELIVERED = "report.delivered"
REPORT_FAILED = "report.failed"
REPLY_RECEIVED = "reply.received"
MESSAGE_NO_RECEIPT = "message.no_receipt"
OPTOUT_ADDED = "optout.added"
OPTOUT_REMOVED = "optout.removed"
#: every type, in the order the docs list them
TYPES = (REPORT_DELIVERED, REPORT_FAILED, REPLY_RECEIVED, MESSAGE_NO_RECEIPT, OPTOUT_ADDED, OPTOUT_REMOVED)
#: the types that name a report, and a reply
OF_REPORTS = (REPORT_DELIVERED, REPORT_FAILED)
OF_REPLIES = (REPLY_RECEIVED,)
