"""Enrichment after transcription: sentiment, conversation metrics, rules, redaction."""
