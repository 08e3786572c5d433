"""Violations -> what users read: text, json, jsonl."""
