"""Interview transcripts and answer tables -> the answers to grade, matched to bank questions."""
