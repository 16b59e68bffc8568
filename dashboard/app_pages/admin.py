"""Admin: the audit trail (who signed in, uploaded, opened, exported, shared, deleted; when)."""

import streamlit as st

from analysis.export import to_csv_bytes
from dashboard.workspace import session
from dashboard.workspace.store import WorkspaceError, WorkspaceUnavailable

st.title("Audit trail")
who = session.principal()  # app.py routes here only for administrators; the store checks again
cfg = session.config()
st.caption("Times in UTC. Entries are kept "
           + (f"for {cfg.audit_retention_days} days" if cfg.audit_retention_days else "until removed by hand")
           + "; datasets " + (f"for {cfg.retention_days} days" if cfg.retention_days else "until their owner deletes them")
           + " (set retention_days and audit_retention_days in secrets.toml [workspace]).")
limit = st.segmented_control("Show the latest", [100, 1000, 10000], default=1000, key="audit_limit", required=True)
try:
    if who is None:
        raise WorkspaceError("Only an administrator of this server can read the audit trail.")
    trail = session.workspace().audit_trail(who, limit=int(limit or 1000))
except WorkspaceUnavailable as error:
    session.unavailable_page(error)
except WorkspaceError as error:
    st.error(str(error), icon=":material/error:")
    st.stop()
actions = st.multiselect("Actions", sorted(trail["action"].unique()), key="audit_actions", placeholder="All")
shown = trail[trail["action"].isin(actions)] if actions else trail
st.dataframe(shown, hide_index=True, key="audit_table")
st.download_button("Audit trail (CSV)", data=lambda: to_csv_bytes(shown), file_name="audit_trail.csv",
                   mime="text/csv", on_click="ignore", icon=":material/download:", key="audit_csv")
