"""Japanese texts shown in more than one place (CLI, batch summary, review workbook), each once.

A text used in one place only stays next to its use; a text two places show lives here, so the
accountant reads the same words for the same thing everywhere.
"""

from __future__ import annotations
