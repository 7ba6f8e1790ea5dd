"""Pure text tools: similarity, screening, redaction, token counts, reading text files."""
