"""The command line's progress on stderr, as a log file on a cluster receives it (not a
terminal): each map of tasks prints its bars once."""

from __future__ import annotations

from heed.curation.run.commands import BarProgress


def test_each_task_map_prints_its_bars_once(capsys) -> None:
    progress = BarProgress()
    maps = (("robots-files tasks", 2), ("dedup-keys tasks", 4), ("shards", 3), ("star tasks", 1))
    for name, total in maps:
        progress.begin(name, total)
        for item in range(total):
            progress.count(5)
            progress.task_done(item, None)
        progress.end()
    err = capsys.readouterr().err
    for name, total in maps:
        assert err.count(name) == 1, err
        assert f"{total}/{total}" in err
    assert err.count("records") == 1 and "15/?" in err  # the shards' records, counted once
    assert err.index("robots-files") < err.index("dedup-keys") < err.index("star tasks")
