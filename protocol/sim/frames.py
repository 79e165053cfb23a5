"""A run's table as a pandas DataFrame (``RunResult.frame``): numbers as floats, for notebooks
(the files keep the exact values)."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

TEXT_COLUMNS = {"market", "mode", "account", "side", "keeper", "cohort", "contract", "event",
                "args", "tx_hash"}


def frame(header: Sequence[str], records: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """A table (``RunResult.records``) as a DataFrame: numeric columns as float64 (int64 for
    whole-number columns such as ``block``), text columns as strings."""
    df = pd.DataFrame.from_records(records, columns=header)
    for column in df.columns:
        if column in TEXT_COLUMNS:
            df[column] = df[column].astype("string")
        else:
            numbers = pd.to_numeric(df[column].map(lambda v: None if v is None else str(v)),
                                    errors="coerce")
            if numbers.notna().sum() or df[column].isna().all():
                df[column] = numbers
    return df
