"""Report cards: the results a user collected with "Add to report", kept for their owner.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_cards",
        sa.Column("owner", sa.String(400), primary_key=True),
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.String(32), nullable=True, index=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("annotation", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("report_cards")
