"""Workspace panels drawn on every page: the saved views of the stored dataset in use."""

from __future__ import annotations

import streamlit as st

from dashboard.security import md
from dashboard.workspace import session
from dashboard.workspace.store import NotFoundOrNotShared, WorkspaceError, WorkspaceUnavailable


def saved_views_panel(dataset: str, url_path: str) -> None:
    """Sidebar: save the current view (URL state and page) under a name; list the dataset's saved
    views with short links (``?view=<id>``) to copy."""
    problem = session.view_problem()
    if problem:
        st.warning(md(problem), icon=":material/link_off:")
    if not session.is_workspace(dataset) or session.role(dataset) is None:
        return
    who = session.principal()
    if who is None:
        return
    dataset_id = dataset.removeprefix(session.PREFIX)
    with st.sidebar.expander("Saved views", icon=":material/bookmarks:"):
        with st.form("save_view_form", clear_on_submit=True, border=False):
            name = st.text_input("Name of this view", max_chars=200, key="save_view_name",
                                 placeholder="e.g. MDD, 40% response")
            saved = st.form_submit_button("Save view", icon=":material/bookmark_add:")
        try:
            if saved:
                view_id = session.workspace().save_view(who, dataset_id, name,
                                                        session.current_state(url_path))
                st.session_state["_ws_last_view"] = view_id
            views = session.workspace().views(who, dataset_id)
        except (WorkspaceError, NotFoundOrNotShared, WorkspaceUnavailable) as error:
            st.warning(md(error), icon=":material/warning:")
            return
        if not views:
            st.caption("No saved view of this dataset yet.")
        base = session.link_base()
        for view in views[:20]:
            st.markdown(f"**{md(view.name, 80)}** · {md(view.created_by, 60)}")
            st.code(f"{base}?view={view.id}", language=None, wrap_lines=True)
        st.caption("Copy a link with the button at its right; it opens for anyone this dataset is shared with.")
