"""`streamlit run`, with the pauses of Python's garbage collector counted for the load test.

    python bench/loadtest/launch.py STATS_FILE app.py --server.port 8501 ...

While a collection runs, no page of any session does: the server has one interpreter. A
callback adds up each generation's collections and pauses and keeps the long pauses with the
moment they ended (`time.monotonic()`, the same clock in every process of the machine), and a
thread writes it all to STATS_FILE (JSON) four times a second, for `Server.gc()` to read.
Everything after STATS_FILE goes to `streamlit run` as it is.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time

WRITE_EVERY_S = 0.25
LONG_PAUSE_S = 0.01  # pauses kept one by one, with their time; shorter ones are only added up
KEPT_PAUSES = 2000


def count_pauses(stats_path: str) -> None:
    totals = {g: {"collections": 0, "seconds": 0.0} for g in range(3)}
    long_pauses: list[tuple[float, int, float]] = []  # (when it ended, generation, seconds)
    started: dict[int, float] = {}

    def on_gc(phase: str, info: dict) -> None:
        generation = info["generation"]
        if phase == "start":
            started[generation] = time.perf_counter()
        elif generation in started:
            pause = time.perf_counter() - started.pop(generation)
            totals[generation]["collections"] += 1
            totals[generation]["seconds"] += pause
            if pause >= LONG_PAUSE_S and len(long_pauses) < KEPT_PAUSES:
                long_pauses.append((time.monotonic(), generation, pause))

    def write() -> None:
        while True:
            time.sleep(WRITE_EVERY_S)
            partial = f"{stats_path}.partial"
            with open(partial, "w") as f:
                json.dump({"totals": {str(g): dict(entry) for g, entry in totals.items()},
                           "long_pauses": list(long_pauses)}, f)
            os.replace(partial, stats_path)

    gc.callbacks.append(on_gc)
    threading.Thread(target=write, name="gc-stats", daemon=True).start()


if __name__ == "__main__":
    count_pauses(sys.argv[1])
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", *sys.argv[2:]]
    cli.main()
