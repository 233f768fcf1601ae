"""The ledger's tables: one definition, which the migrations (`migrations/`) create and change.

Text columns carry no length: SQLite ignores one and PostgreSQL would refuse a hostile file's
long value at the insert; a file's size is a BigInteger.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("started_at", sa.Text, nullable=False),
    sa.Column("finished_at", sa.Text),
    sa.Column("inputs", sa.Text),
    sa.Column("n_files", sa.Integer, default=0),
    sa.Column("summary", sa.Text),  # JSON: counts by status
)

submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
    sa.Column("file", sa.Text, nullable=False),  # the name as dropped, readable (see inbox.readable_name)
    sa.Column("name_bytes", sa.LargeBinary),  # the path under the inbox exactly as the file system had it
    sa.Column("inbox_path", sa.Text, nullable=False),  # relative to the inbox
    sa.Column("sha256", sa.Text, nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("received_at", sa.Text, nullable=False),
    sa.Column("format", sa.Text),
    sa.Column("county_code", sa.Text, index=True),
    sa.Column("period", sa.Text, index=True),
    sa.Column("form", sa.Text, index=True),  # the form's id (forms/<id>/); none for a file no form was found in
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("errors", sa.Integer, default=0),
    sa.Column("warnings", sa.Integer, default=0),
    sa.Column("reason", sa.Text),
    sa.Column("stored_as", sa.Text),
    sa.Column("duplicate_of", sa.Integer),
    sa.Column("superseded_by", sa.Integer),
    sa.Column("sheet", sa.Text),
    sa.Column("office", sa.Text),
    sa.Column("filled_by", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("fill_date", sa.Text),
    sa.Column("override_by", sa.Text),  # `huizong accept`: who accepted a refused return,
    sa.Column("override_reason", sa.Text),  # why,
    sa.Column("override_at", sa.Text),  # and when
)

facts = sa.Table(
    "facts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True),
    sa.Column("county_code", sa.Text, nullable=False),
    sa.Column("period", sa.Text, nullable=False),
    sa.Column("form", sa.Text),
    sa.Column("indicator", sa.Text, nullable=False),
    sa.Column("column", sa.Text, nullable=False),  # target | value | last_year
    sa.Column("number", sa.Float),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("raw", sa.Text),
    sa.Column("unit_written", sa.Text),
    sa.Column("flags", sa.Text),
    sa.Column("sheet", sa.Text),
    sa.Column("cell", sa.Text),
    sa.Column("note", sa.Text),
    sa.Index("ix_facts_key", "period", "county_code", "indicator"),
)

records = sa.Table(
    "records",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True),
    sa.Column("form", sa.Text, nullable=False),
    sa.Column("county_code", sa.Text, nullable=False),
    sa.Column("period", sa.Text, nullable=False),
    sa.Column("sheet", sa.Text),
    sa.Column("row", sa.Integer),  # 1-based, as Excel shows it
    sa.Column("key", sa.Text),  # the value of the list's key field (合同登记号), for uniqueness across returns
    sa.Column("data", sa.Text, nullable=False),  # JSON: field -> value as the form means it
    sa.Index("ix_records_form_key", "form", "key"),
    sa.Index("ix_records_form_period", "form", "period", "county_code"),
)

issues = sa.Table(
    "issues",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True),
    sa.Column("code", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("sheet", sa.Text),
    sa.Column("cell", sa.Text),
    sa.Column("indicator", sa.Text),
    sa.Column("value", sa.Text),
    sa.Column("explanation", sa.Text),
)


sightings = sa.Table(
    "sightings",
    metadata,
    # when a run first saw a file in the inbox: its time of receipt, even if that run was killed and a
    # later night's run commits it (the inode change time says it for real; a replay's clock this)
    sa.Column("inbox_path", sa.Text, primary_key=True),
    sa.Column("size", sa.BigInteger, primary_key=True),
    sa.Column("mtime_ns", sa.BigInteger, primary_key=True),
    sa.Column("seen_at", sa.Text, nullable=False),
)

locks = sa.Table(
    "locks",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("host", sa.Text),
    sa.Column("pid", sa.Integer),
    sa.Column("acquired_at", sa.DateTime),
    sa.Column("heartbeat_at", sa.DateTime),
)

revisions = sa.Table(
    "revisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True),
    sa.Column("previous_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False),
    sa.Column("indicator", sa.Text, nullable=False),
    sa.Column("column", sa.Text, nullable=False),
    sa.Column("old", sa.Float),
    sa.Column("new", sa.Float),
    sa.Column("old_raw", sa.Text),
    sa.Column("new_raw", sa.Text),
    sa.Column("cell", sa.Text),
)

users = sa.Table(  # the review desk's accounts (huizong.desk.accounts)
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.Text, nullable=False, unique=True),  # folded: NFKC, lower case
    sa.Column("display_name", sa.Text),
    sa.Column("role", sa.Text, nullable=False),  # county | city | province | admin
    sa.Column("division", sa.Text, nullable=False),  # the GB/T 2260 code the role binds to (000000: the nation)
    sa.Column("phone", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("password_hash", sa.Text, nullable=False),  # argon2id, with its parameters
    sa.Column("must_change", sa.Boolean, nullable=False),  # a first or reset password: changed at next sign-in
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("password_changed_at", sa.Text),
    sa.Column("disabled_at", sa.Text),
    sa.Column("notices_off_at", sa.Text),  # when the user asked for no more notices (none: they get them)
)

actions = sa.Table(  # the desk's journal: every action on an account or a return, who, what, when, why, whence
    "actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id")),  # none for the command line
    sa.Column("actor", sa.Text, nullable=False),  # the user's name, or cli
    sa.Column("action", sa.Text, nullable=False),  # user-add, user-disable, password-set, password-reset, …
    sa.Column("target", sa.Text),  # what it acted on: a username, a submission id, a form and period
    sa.Column("division", sa.Text, index=True),
    sa.Column("reason", sa.Text),
    sa.Column("address", sa.Text),  # the client's address, for the web desk
    sa.Column("detail", sa.Text),  # JSON
)

sessions = sa.Table(  # the desk's sign-ins: the cookie holds a token, the ledger its SHA-256 (huizong.desk.sessions)
    "sessions",
    metadata,
    sa.Column("token_hash", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("csrf", sa.Text, nullable=False),  # the token every form of the session carries
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("seen_at", sa.Text, nullable=False),
    sa.Column("address", sa.Text),
    sa.Column("ended_at", sa.Text),  # signed out, or ended by a password change or a disabled account
)

sign_in_failures = sa.Table(  # wrong passwords, for throttling sign-in by name and by address
    "sign_in_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.Text, nullable=False, index=True),
    sa.Column("address", sa.Text, index=True),
    sa.Column("at", sa.Text, nullable=False),
)

reviews = sa.Table(  # a reviewer's verdict on a return (huizong.ledger.review): the latest per submission
    "reviews",
    metadata,
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), primary_key=True),
    sa.Column("state", sa.Text, nullable=False),  # accepted | returned
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),  # what the county reads when its return is sent back
)

approvals = sa.Table(  # a division's period approved (审核通过) and then reported upward (上报): locked while it stands
    "approvals",
    metadata,
    sa.Column("form", sa.Text, primary_key=True),
    sa.Column("division", sa.Text, primary_key=True),  # the city (or province) whose period it is
    sa.Column("period", sa.Text, primary_key=True),
    sa.Column("state", sa.Text, nullable=False),  # approved | reported
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("reported_at", sa.Text),
    sa.Column(
        "version", sa.Integer, nullable=False
    ),  # bumped by every change: two reviewers never overwrite each other
)

explanations = sa.Table(  # a county's written explanation (说明) of a warning, given on the desk
    "explanations",
    metadata,
    sa.Column("issue_id", sa.Integer, sa.ForeignKey("issues.id"), primary_key=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("at", sa.Text, nullable=False),
)


notices = sa.Table(  # the outbox (huizong.notify): each notice to one address, queued with what caused it
    "notices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.Text, nullable=False, unique=True),  # what it is about and to whom: never queued twice
    sa.Column("kind", sa.Text, nullable=False),  # returned | judged | waiting | reminder | overdue | digest | test
    sa.Column("channel", sa.Text, nullable=False),  # email | robot
    sa.Column("address", sa.Text, nullable=False),  # an e-mail address, or the robot's name in notices.toml
    sa.Column("division", sa.Text, index=True),  # whose matter it is: the county, or the reviewer's division
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id")),  # the user it goes to (none for a robot)
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False, index=True),  # queued | sending | sent | failed
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("due_at", sa.Text, nullable=False),  # not before: a retry waits its backoff
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("claimed_at", sa.Text),  # a sender took it then: another sender leaves it alone a while
    sa.Column("claimed_by", sa.Text),  # which sender (host:pid): a restarted one takes back a dead one's
    sa.Column("sent_at", sa.Text),
    sa.Column("error", sa.Text),  # the last attempt's failure
)

notice_marks = sa.Table(  # how far the notice planner has read the ledger (the newest submission it judged)
    "notice_marks",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)


# what publishing owes: the (form, period, county) a run or an action changed (form NULL: everything),
# or the feedback workbook of a submission (submission_id, the rest NULL)
publish_due = sa.Table(
    "publish_due",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("form", sa.Text),
    sa.Column("period", sa.Text),
    sa.Column("county", sa.Text),
    sa.Column("submission_id", sa.Integer),
    sa.Column("run_id", sa.Integer),
    sa.Column("queued_at", sa.Text, nullable=False),
)

# what each region's outputs of a period were last written from: the digest of their view model
# (with the configuration and the code that wrote them) and the files, relative to outputs/; a
# publishing whose view has the same digest, and finds the files, leaves them as they are
published = sa.Table(
    "published",
    metadata,
    sa.Column("form", sa.Text, primary_key=True),
    sa.Column("period", sa.Text, primary_key=True),
    sa.Column("region", sa.Text, primary_key=True),
    sa.Column("digest", sa.Text, nullable=False),
    sa.Column("files", sa.Text, nullable=False),  # a JSON list
    sa.Column("published_at", sa.Text, nullable=False),
)
