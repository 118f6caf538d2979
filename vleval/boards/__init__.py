"""Boards: leaderboards (:mod:`~vleval.boards.build` → :mod:`~vleval.boards.board` → :mod:`~vleval.boards.render`)
and research summaries (:mod:`~vleval.boards.summaries`) built from records, and the other commands' tables."""
