"""Content hashes: what makes a document "changed" (変更あり) for the ledger.

A document's hash is the sha256 of its source rows in file order, each row its :data:`HASH_FIELDS`
as text (an empty cell as "") joined by US (0x1f), rows joined by RS (0x1e), encoded as UTF-8. It
must stay stable across runs and pandas versions: the ledger compares it with the hash it stored
when the document was sent.
"""

from __future__ import annotations

import pandas as pd

from converter.convert import _kernels
from converter.convert.documents import row_documents

#: Fields whose change means the document changed (content hash), in a fixed order.
HASH_FIELDS = (
    "date", "kind", "doc_no", "customer_code", "customer",
    "dr_account", "dr_sub_account", "dr_department", "dr_tax", "dr_amount", "dr_tax_amount",
    "cr_account", "cr_sub_account", "cr_department", "cr_tax", "cr_amount", "cr_tax_amount",
    "memo",
)


def content_hashes(rows: pd.DataFrame) -> pd.DataFrame:
    """The content hash of each document of ``rows`` (normalised source rows with ``doc``): a frame
    of doc and content_hash, documents in order of first row."""
    codes = None if rows.empty or rows["doc"].hasnans else row_documents(rows)
    return _kernels.content_hashes(rows, HASH_FIELDS, codes)
