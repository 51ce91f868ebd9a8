"""The review workbook: the accountant's dry-run spreadsheet, filed with the month."""
