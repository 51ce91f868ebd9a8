"""ジョブカン見積/請求書 取引明細 → TKC FX cloud journal slips.

The public library API (the README's "Library use" shows it at work)::

    import converter
    conversion = converter.convert(["取引明細.csv"], Path("mappings"))       # read → … → slips
    result = converter.preview(["取引明細.csv"], Path("mappings"))           # + what the ledger says
    conversion, report = converter.upload(["取引明細.csv"], Path("mappings"), converter.Options())
    converter.write_review(conversion, Path("review.xlsx"))

Stages, one subpackage each: config → convert (read, normalise, mapping, validate, slips) →
fx (request bodies, the HTTP client, masters) → ledger → sync (plan, send, preview) | review
(workbook); ``emulator`` is an independent FX API for rehearsals and tests; ``cli`` the command line.

Names are imported when first used (module ``__getattr__``): ``import converter`` and
``converter --help`` stay fast, and ``converter.emulator`` does not pull pandas in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Conversion",
    "Ledger",
    "Options",
    "Preview",
    "Problem",
    "UploadReport",
    "convert",
    "errors",
    "preview",
    "upload",
    "write_review",
]

# name → (module, attribute in it; None: the module itself)
_HOMES: dict[str, tuple[str, str | None]] = {
    "Conversion": ("converter.convert.pipeline", "Conversion"),
    "Options": ("converter.convert.pipeline", "Options"),
    "convert": ("converter.convert.pipeline", "convert"),
    "Problem": ("converter.errors", "Problem"),
    "errors": ("converter.errors", None),
    "Preview": ("converter.sync.preview", "Preview"),
    "preview": ("converter.sync.preview", "preview"),
    "UploadReport": ("converter.sync.report", "UploadReport"),
    "upload": ("converter.sync.upload", "upload_files"),
    "write_review": ("converter.review.workbook", "write_review"),
    "Ledger": ("converter.ledger.ledger", "Ledger"),
}

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from converter import errors
    from converter.convert.pipeline import Conversion, Options, convert
    from converter.errors import Problem
    from converter.ledger.ledger import Ledger
    from converter.review.workbook import write_review
    from converter.sync.preview import Preview, preview
    from converter.sync.report import UploadReport
    from converter.sync.upload import upload_files as upload


# ``convert`` names both the stage subpackage and the library function. Importing a subpackage binds
# its name on the parent *when the subpackage is first loaded*, so the (light) package is loaded now
# and its binding dropped: from then on ``converter.convert`` is the function (via __getattr__), and
# importing ``converter.convert.pipeline`` & co. later never rebinds it. Reach the stage's modules by
# ``from converter.convert import pipeline`` (or ``from converter.convert.pipeline import …``), never
# as attributes ``converter.convert.pipeline`` (nor as a dotted string given to monkeypatch).
importlib.import_module("converter.convert")
del globals()["convert"]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _HOMES[name]
    except KeyError:
        raise AttributeError(f"module 'converter' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
