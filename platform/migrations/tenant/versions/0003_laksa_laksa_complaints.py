"""laksa complaints: categories, areas, complaints with timeline, supports and photos, SLA
policies and office hours, response templates, Open311 keys; rules get copies and kecamatan.

A city that already exists gets the default categories, SLA policies and office hours here (a new
city gets them from the module's seed).

Revision ID: 0003_laksa
Revises: 0002_people
Create Date: 2026-12-01 08:28:17.019795
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_laksa"
down_revision: str | Sequence[str] | None = "0002_people"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "laksa_api_key",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_laksa_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_laksa_api_key_key_hash")),
    )
    op.create_table(
        "laksa_area",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("parent_code", sa.Text(), nullable=True),
        sa.Column("geometry", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('kecamatan', 'kelurahan')", name=op.f("ck_laksa_area_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_laksa_area")),
        sa.UniqueConstraint("kind", "code", name=op.f("uq_laksa_area_kind_code")),
    )
    op.create_table(
        "laksa_holiday",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_laksa_holiday")),
    )
    op.create_table(
        "laksa_sla_policy",
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("calendar", sa.String(length=16), nullable=False),
        sa.Column("at_risk_percent", sa.Integer(), nullable=False),
        sa.CheckConstraint("calendar IN ('working', 'always')", name=op.f("ck_laksa_sla_policy_calendar")),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'emergency')", name=op.f("ck_laksa_sla_policy_priority")
        ),
        sa.CheckConstraint(
            "at_risk_percent BETWEEN 1 AND 99", name=op.f("ck_laksa_sla_policy_at_risk_percent")
        ),
        sa.CheckConstraint("hours > 0", name=op.f("ck_laksa_sla_policy_hours")),
        sa.PrimaryKeyConstraint("priority", name=op.f("pk_laksa_sla_policy")),
    )
    op.create_table(
        "laksa_working_hours",
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("opens", sa.Time(), nullable=False),
        sa.Column("closes", sa.Time(), nullable=False),
        sa.CheckConstraint("opens < closes", name=op.f("ck_laksa_working_hours_span")),
        sa.CheckConstraint("weekday BETWEEN 1 AND 7", name=op.f("ck_laksa_working_hours_weekday")),
        sa.PrimaryKeyConstraint("weekday", name=op.f("pk_laksa_working_hours")),
    )
    op.create_table(
        "laksa_category",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("group_name", sa.Text(), nullable=True),
        sa.Column("keywords", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("agency_id", sa.BigInteger(), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("code ~ '^[a-z0-9][a-z0-9-]{0,63}$'", name=op.f("ck_laksa_category_code")),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'emergency')", name=op.f("ck_laksa_category_priority")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_laksa_category_agency_id_agency"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_laksa_category")),
        sa.UniqueConstraint("code", name=op.f("uq_laksa_category_code")),
    )
    op.create_table(
        "laksa_response_template",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("agency_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_laksa_response_template_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_laksa_response_template")),
    )
    op.create_table(
        "laksa_complaint",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("citizen_id", sa.BigInteger(), nullable=True),
        sa.Column("api_key_id", sa.BigInteger(), nullable=True),
        sa.Column("contact", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("hashtags", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("category_id", sa.BigInteger(), nullable=True),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("kecamatan", sa.Text(), nullable=True),
        sa.Column("kecamatan_code", sa.String(length=64), nullable=True),
        sa.Column("kelurahan", sa.Text(), nullable=True),
        sa.Column("kelurahan_code", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("priority_rank", sa.SmallInteger(), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("agency_id", sa.BigInteger(), nullable=True),
        sa.Column("copied_agency_ids", sa.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("rule_id", sa.BigInteger(), nullable=True),
        sa.Column("routing", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("duplicate_of_id", sa.BigInteger(), nullable=True),
        sa.Column("support_count", sa.Integer(), nullable=False),
        sa.Column("sla_hours", sa.Integer(), nullable=True),
        sa.Column("sla_calendar", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("at_risk_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_at_risk_flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_breached_flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "submitted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("forwarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("idempotency_scope", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("open311_token", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'emergency')", name=op.f("ck_laksa_complaint_priority")
        ),
        sa.CheckConstraint(
            "sla_calendar IN ('working', 'always')", name=op.f("ck_laksa_complaint_sla_calendar")
        ),
        sa.CheckConstraint(
            "source IN ('web', 'api', 'open311', 'staff')", name=op.f("ck_laksa_complaint_source")
        ),
        sa.CheckConstraint(
            "state IN ('submitted', 'triage', 'forwarded', 'acknowledged', 'in_progress', 'reopened', 'resolved', 'closed', 'duplicate')",
            name=op.f("ck_laksa_complaint_state"),
        ),
        sa.CheckConstraint(
            "char_length(description) <= 4000", name=op.f("ck_laksa_complaint_description_length")
        ),
        sa.CheckConstraint(
            "lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name=op.f("ck_laksa_complaint_location")
        ),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_laksa_complaint_rating")),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_laksa_complaint_agency_id_agency"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["laksa_api_key.id"],
            name=op.f("fk_laksa_complaint_api_key_id_laksa_api_key"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["employee.id"],
            name=op.f("fk_laksa_complaint_assignee_id_employee"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["laksa_category.id"],
            name=op.f("fk_laksa_complaint_category_id_laksa_category"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizen.id"],
            name=op.f("fk_laksa_complaint_citizen_id_citizen"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["laksa_complaint.id"],
            name=op.f("fk_laksa_complaint_duplicate_of_id_laksa_complaint"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["laksa_hashtag_rule.id"],
            name=op.f("fk_laksa_complaint_rule_id_laksa_hashtag_rule"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_laksa_complaint")),
        sa.UniqueConstraint(
            "idempotency_scope",
            "idempotency_key",
            name=op.f("uq_laksa_complaint_idempotency_scope_idempotency_key"),
        ),
        sa.UniqueConstraint("open311_token", name=op.f("uq_laksa_complaint_open311_token")),
    )
    op.create_index("ix_laksa_complaint_agency", "laksa_complaint", ["agency_id", "id"], unique=False)
    op.create_index(
        "ix_laksa_complaint_agency_open",
        "laksa_complaint",
        ["agency_id", "id"],
        unique=False,
        postgresql_where=sa.text(
            "state IN ('submitted', 'triage', 'forwarded', 'acknowledged', 'in_progress', 'reopened')"
        ),
    )
    op.create_index("ix_laksa_complaint_citizen", "laksa_complaint", ["citizen_id", "id"], unique=False)
    op.create_index(
        "ix_laksa_complaint_copies",
        "laksa_complaint",
        ["copied_agency_ids"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_laksa_complaint_due",
        "laksa_complaint",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text(
            "state IN ('submitted', 'triage', 'forwarded', 'acknowledged', 'in_progress', 'reopened') AND due_at IS NOT NULL"
        ),
    )
    op.create_index(
        "ix_laksa_complaint_nearby",
        "laksa_complaint",
        ["category_id", "lat", "lon"],
        unique=False,
        postgresql_where=sa.text(
            "state IN ('submitted', 'triage', 'forwarded', 'acknowledged', 'in_progress', 'reopened') AND lat IS NOT NULL"
        ),
    )
    op.create_index(
        "ix_laksa_complaint_resolved",
        "laksa_complaint",
        ["resolved_at"],
        unique=False,
        postgresql_where=sa.text("state = 'resolved'"),
    )
    op.create_index("ix_laksa_complaint_state", "laksa_complaint", ["state", "id"], unique=False)
    op.create_index("ix_laksa_complaint_submitted", "laksa_complaint", ["submitted_at"], unique=False)
    op.create_index("ix_laksa_complaint_updated", "laksa_complaint", ["updated_at"], unique=False)
    op.create_table(
        "laksa_support",
        sa.Column("complaint_id", sa.BigInteger(), nullable=False),
        sa.Column("citizen_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizen.id"],
            name=op.f("fk_laksa_support_citizen_id_citizen"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["laksa_complaint.id"],
            name=op.f("fk_laksa_support_complaint_id_laksa_complaint"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("complaint_id", "citizen_id", name=op.f("pk_laksa_support")),
    )
    op.create_table(
        "laksa_timeline",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("complaint_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_name", sa.Text(), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint(
            "kind IN ('submitted', 'routed', 'triage', 'forwarded', 'acknowledged', 'started', 'resolved', 'closed', 'reopened', 'returned', 'duplicate', 'transferred', 'assigned', 'note', 'reply', 'classified', 'supported', 'rated', 'sla_at_risk', 'sla_breached', 'photo')",
            name=op.f("ck_laksa_timeline_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["laksa_complaint.id"],
            name=op.f("fk_laksa_timeline_complaint_id_laksa_complaint"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_laksa_timeline")),
    )
    op.create_index("ix_laksa_timeline_at", "laksa_timeline", ["at"], unique=False)
    op.create_index("ix_laksa_timeline_complaint", "laksa_timeline", ["complaint_id", "id"], unique=False)
    op.create_table(
        "laksa_media",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("complaint_id", sa.BigInteger(), nullable=False),
        sa.Column("timeline_id", sa.BigInteger(), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("original", sa.LargeBinary(), nullable=True),
        sa.Column("image", sa.LargeBinary(), nullable=True),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=True),
        sa.Column("content_type", sa.String(length=32), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("purpose IN ('report', 'proof')", name=op.f("ck_laksa_media_purpose")),
        sa.CheckConstraint("status IN ('pending', 'ready', 'failed')", name=op.f("ck_laksa_media_status")),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["laksa_complaint.id"],
            name=op.f("fk_laksa_media_complaint_id_laksa_complaint"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["timeline_id"],
            ["laksa_timeline.id"],
            name=op.f("fk_laksa_media_timeline_id_laksa_timeline"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_laksa_media")),
    )
    op.create_index("ix_laksa_media_complaint", "laksa_media", ["complaint_id", "id"], unique=False)
    op.create_index(
        "ix_laksa_media_pending",
        "laksa_media",
        ["id"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.add_column(
        "laksa_hashtag_rule",
        sa.Column(
            "copy_agency_ids", sa.ARRAY(sa.BigInteger()), server_default=sa.text("'{}'"), nullable=False
        ),
    )
    op.add_column(
        "laksa_hashtag_rule",
        sa.Column("kecamatan_codes", sa.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    )
    op.add_column("laksa_hashtag_rule", sa.Column("description", sa.Text(), nullable=True))
    op.add_column("laksa_hashtag_rule", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    _seed_defaults()


def _seed_defaults() -> None:
    """The defaults of this revision, written out: later changes to the module's defaults must not
    change what this migration did."""
    bind = op.get_bind()
    agencies = dict(bind.execute(sa.text("SELECT code, id FROM agency")).all())
    categories = [
        # code, name, name_en, group, agency code, priority, emergency, sensitive
        ("street-lamp", "Lampu jalan (PJU) mati atau rusak", "Street lamp out or broken", "Infrastruktur", "pupr", "normal", False, False),
        ("road", "Jalan rusak atau berlubang", "Damaged road or pothole", "Infrastruktur", "pupr", "normal", False, False),
        ("drainage", "Saluran air atau gorong-gorong tersumbat", "Blocked drain or culvert", "Infrastruktur", "pupr", "normal", False, False),
        ("rubbish", "Sampah menumpuk atau TPS liar", "Rubbish piling up or illegal dumping", "Lingkungan", "dlh", "normal", False, False),
        ("traffic", "Kemacetan, parkir liar, rambu rusak", "Traffic jam, illegal parking, broken sign", "Perhubungan", "dishub", "high", False, False),
        ("public-order", "Ketertiban umum", "Public order", "Ketertiban", "satpol-pp", "normal", False, False),
        ("fire", "Kebakaran", "Fire", "Darurat", "damkar", "emergency", True, False),
        ("wasp-nest", "Sarang tawon atau hewan berbahaya", "Wasp nest or dangerous animal", "Darurat", "damkar", "emergency", True, False),
        ("flood", "Banjir atau genangan", "Flood or standing water", "Darurat", "bpbd", "emergency", True, False),
        ("disaster", "Bencana: longsor, pohon tumbang", "Disaster: landslide, fallen tree", "Darurat", "bpbd", "high", False, False),
        ("health", "Kesehatan (DBD, ambulans)", "Health (dengue, ambulance)", "Sosial", "dinkes", "high", False, True),
        ("social", "Warga terlantar, ODGJ, anak jalanan", "People in need on the street", "Sosial", "dinsos", "normal", False, True),
        ("other", "Lainnya", "Other", "Lainnya", None, "normal", False, False),
    ]  # fmt: skip
    category = sa.table(
        "laksa_category",
        *(sa.column(c) for c in ("code", "name", "name_en", "group_name", "agency_id", "priority", "emergency",
                                 "sensitive", "sort")),
        sa.column("keywords", sa.ARRAY(sa.Text())),
        sa.column("attributes", postgresql.JSONB()),
        sa.column("active", sa.Boolean()),
    )  # fmt: skip
    bind.execute(
        postgresql.insert(category)
        .values(
            [
                {
                    "code": code, "name": name, "name_en": name_en, "group_name": group,
                    "agency_id": agencies.get(agency) if agency else None, "priority": priority,
                    "emergency": emergency, "sensitive": sensitive, "sort": (i + 1) * 10, "keywords": [],
                    "attributes": [], "active": True,
                }
                for i, (code, name, name_en, group, agency, priority, emergency, sensitive) in enumerate(categories)
            ]
        )
        .on_conflict_do_nothing(index_elements=["code"])
    )  # fmt: skip
    bind.execute(
        sa.text(
            "INSERT INTO laksa_sla_policy (priority, hours, calendar, at_risk_percent) VALUES "
            "('emergency', 2, 'always', 75), ('high', 8, 'working', 75), ('normal', 72, 'working', 75), "
            "('low', 120, 'working', 75) ON CONFLICT DO NOTHING"
        )
    )
    bind.execute(
        sa.text(
            "INSERT INTO laksa_working_hours (weekday, opens, closes) "
            "SELECT d, '08:00', '16:00' FROM generate_series(1, 5) AS d ON CONFLICT DO NOTHING"
        )
    )


def downgrade() -> None:
    op.drop_column("laksa_hashtag_rule", "updated_at")
    op.drop_column("laksa_hashtag_rule", "description")
    op.drop_column("laksa_hashtag_rule", "kecamatan_codes")
    op.drop_column("laksa_hashtag_rule", "copy_agency_ids")
    op.drop_index(
        "ix_laksa_media_pending", table_name="laksa_media", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_index("ix_laksa_media_complaint", table_name="laksa_media")
    op.drop_table("laksa_media")
    op.drop_index("ix_laksa_timeline_complaint", table_name="laksa_timeline")
    op.drop_index("ix_laksa_timeline_at", table_name="laksa_timeline")
    op.drop_table("laksa_timeline")
    op.drop_table("laksa_support")
    op.drop_index("ix_laksa_complaint_updated", table_name="laksa_complaint")
    op.drop_index("ix_laksa_complaint_submitted", table_name="laksa_complaint")
    op.drop_index("ix_laksa_complaint_state", table_name="laksa_complaint")
    op.drop_index(
        "ix_laksa_complaint_resolved",
        table_name="laksa_complaint",
        postgresql_where=sa.text("state = 'resolved'"),
    )
    op.drop_index(
        "ix_laksa_complaint_nearby",
        table_name="laksa_complaint",
        postgresql_where=sa.text(
            "state IN ('submitted', 'triage', 'forwarded', 'acknowledged', 'in_progress', 'reopened') AND lat IS NOT NULL"
        ),
    )
    op.drop_index(
        "ix_laksa_complaint_due",
        table_name="laksa_complaint",
        postgresql_where=sa.text(
            "state IN ('submitted', 'triage', 'forwarded', 'acknowledged', 'in_progress', 'reopened') AND due_at IS NOT NULL"
        ),
    )
    op.drop_index("ix_laksa_complaint_copies", table_name="laksa_complaint", postgresql_using="gin")
    op.drop_index("ix_laksa_complaint_citizen", table_name="laksa_complaint")
    op.drop_index(
        "ix_laksa_complaint_agency_open",
        table_name="laksa_complaint",
        postgresql_where=sa.text(
            "state IN ('submitted', 'triage', 'forwarded', 'acknowledged', 'in_progress', 'reopened')"
        ),
    )
    op.drop_index("ix_laksa_complaint_agency", table_name="laksa_complaint")
    op.drop_table("laksa_complaint")
    op.drop_table("laksa_response_template")
    op.drop_table("laksa_category")
    op.drop_table("laksa_working_hours")
    op.drop_table("laksa_sla_policy")
    op.drop_table("laksa_holiday")
    op.drop_table("laksa_area")
    op.drop_table("laksa_api_key")
