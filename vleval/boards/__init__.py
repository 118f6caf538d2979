"""Boards: leaderboards and research summaries built from records, and their renderings."""
