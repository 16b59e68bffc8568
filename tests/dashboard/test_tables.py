"""Display of analysis tables: which columns an interval belongs to."""

from __future__ import annotations

import pandas as pd

from dashboard.tables import display_options


def test_a_fixed_effects_tables_bounds_belong_to_its_estimate_not_its_p_value():
    """estimate, se, df, statistic, p, lower, upper (the mixed model's and MMRM's fixed effects):
    the interval is the estimate's; it was shown as 'p (95% CI)' with the p-value in front."""
    fixed = pd.DataFrame({"term": ["Intercept"], "estimate": [1.33], "se": [2.42], "df": [313.19],
                          "statistic": [0.55], "p": [0.58], "lower": [-3.43], "upper": [6.09]})
    options = display_options(fixed)
    assert "estimate (95% CI)" in options["column_order"]
    assert not any(str(c).startswith(("p (", "statistic (")) for c in options["column_order"])
    shown = options["data"].data if hasattr(options["data"], "data") else options["data"]
    assert shown["estimate (95% CI)"].iloc[0].startswith("1.33 (-3.43")
