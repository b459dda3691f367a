"""Pilot-study research: studies, consent, daily metrics, statistics, export, reports."""
