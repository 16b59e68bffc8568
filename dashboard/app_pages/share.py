"""Share: your stored datasets, who may open the one in use (owner), and deletion."""

import pandas as pd
import streamlit as st

from dashboard import compute
from dashboard.context import current
from dashboard.security import md
from dashboard.state import set_dataset
from dashboard.workspace import ROLES, session
from dashboard.workspace.store import NotFoundOrNotShared, Principal, WorkspaceError, WorkspaceUnavailable


def _delete(who: Principal, dataset_id: str) -> None:
    """The Delete button's callback: it runs before the sidebar is drawn, so the dataset in use
    can still be switched to the sample."""
    try:
        session.workspace().delete_dataset(who, dataset_id)
    except (NotFoundOrNotShared, WorkspaceUnavailable) as error:
        st.session_state["_share_delete_error"] = str(error)
        return
    compute.forget_dataset(session.PREFIX + dataset_id)
    if st.session_state.get("dataset") == session.PREFIX + dataset_id:
        set_dataset("sample")


def _unshare(who: Principal, dataset_id: str) -> None:
    """The Stop sharing button's callback (errors shown on the next run, like deletion's)."""
    kind, _, grantee = str(st.session_state.get("revoke_choice") or "").partition(": ")
    try:
        session.workspace().unshare(who, dataset_id, grantee, kind=kind)
    except (NotFoundOrNotShared, WorkspaceUnavailable) as error:
        st.session_state["_share_revoke_error"] = str(error)


ctx = current()
dataset = ctx.settings.dataset
st.title("Share")
st.caption("Datasets you loaded are kept in the workspace (validated tables only, never the file). "
           "Share one with a colleague or a group: analysts see everything and may export rows; "
           "viewers see aggregates only, with small cells always suppressed.")
who = session.principal()
try:
    ws = session.workspace()
    mine = ws.list_datasets(who) if who is not None else []
except WorkspaceUnavailable as error:
    session.unavailable_page(error)

if session.is_workspace(dataset) and session.role(dataset) == "owner" and not session.config().team:
    st.subheader("The link to this dataset")
    st.info("This server runs in local mode: one user, no sign-in, so there is nobody to share with by "
            "e-mail. The link reopens this dataset (and a saved view's link its view) in any browser on "
            "this machine, after a refresh or a restart. To share with colleagues, run the team "
            "deployment (sign-in and a shared database; see the README's Deploy section).",
            icon=":material/person:")
    st.code(f"{session.link_base()}?dataset={dataset}", language=None, wrap_lines=True)
elif session.is_workspace(dataset) and session.role(dataset) == "owner":
    dataset_id = dataset.removeprefix(session.PREFIX)
    st.subheader("Share this dataset")
    with st.form("share_form", clear_on_submit=True):
        with st.container(horizontal=True, vertical_alignment="bottom"):
            kind = st.segmented_control("With", ["person", "group"], default="person", key="share_kind",
                                        required=True)
            grantee = st.text_input("E-mail address or group name", key="share_grantee", max_chars=320)
            role = st.selectbox("Role", ROLES, key="share_role",
                                help="viewer: aggregates only; analyst: row-level views and exports.")
        submitted = st.form_submit_button("Share", icon=":material/person_add:", type="primary")
    try:
        if submitted:
            ws.share(who, dataset_id, grantee, role, kind="group" if kind == "group" else "user")
            st.success(f"Shared with {md(grantee, 80)} as {role}.", icon=":material/check_circle:")
        grants = ws.grants(who, dataset_id)
    except (WorkspaceError, NotFoundOrNotShared, WorkspaceUnavailable) as error:
        st.error(md(error), icon=":material/error:")
        grants = []
    if problem := st.session_state.pop("_share_revoke_error", None):
        st.error(md(problem), icon=":material/error:")
    if grants:
        st.dataframe(pd.DataFrame([{"with": g.grantee, "kind": g.kind, "role": g.role} for g in grants]),
                     hide_index=True, key="grants_table")
        with st.container(horizontal=True, vertical_alignment="bottom"):
            st.selectbox("Stop sharing with", [f"{g.kind}: {g.grantee}" for g in grants], key="revoke_choice")
            st.button("Stop sharing", icon=":material/person_remove:", key="revoke", on_click=_unshare,
                      args=(who, dataset_id))
    st.caption("The link to this dataset (it opens only for the people and groups above):")
    st.code(f"{session.link_base()}?dataset={dataset}", language=None, wrap_lines=True)
elif session.is_workspace(dataset) and session.role(dataset) is not None:
    st.info(f"This dataset was shared with you as {session.role(dataset)}; only its owner can share it.",
            icon=":material/info:")
else:
    st.info("Load an upload on the Data page (or open one of your datasets below) to share it.",
            icon=":material/info:")

st.subheader("Your datasets")
if problem := st.session_state.pop("_share_delete_error", None):
    st.error(md(problem), icon=":material/error:")
if not mine:
    st.caption("None yet: uploads you load on the Data page appear here.")
for info in mine:
    with st.container(border=True, horizontal=True, vertical_alignment="center"):
        whose = "yours" if info.role == "owner" else f"{info.role}, shared by {md(info.owner, 60)}"
        st.markdown(f"**{md(info.name, 80)}** · {info.n_patients:,} patients · {whose} · "
                    f"{info.created_at:%Y-%m-%d %H:%M} UTC")
        name = session.PREFIX + info.id
        st.button("Open", key=f"open_{info.id}", on_click=set_dataset, args=(name,), icon=":material/open_in_new:",
                  disabled=name == dataset)
        if info.role == "owner":
            confirm = st.checkbox("Confirm deletion", key=f"confirm_delete_{info.id}")
            st.button("Delete", key=f"delete_{info.id}", disabled=not confirm, icon=":material/delete:",
                      on_click=_delete, args=(who, info.id),
                      help="Removes the dataset with its saved views, shares and cached results.")
