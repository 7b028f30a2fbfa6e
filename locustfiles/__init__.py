"""Locust users for timeoutlab: one per delivery strategy, and a mixed locustfile."""
