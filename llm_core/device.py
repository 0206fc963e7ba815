"""Where the models run: CUDA when present, else the CPU, with the thread count set once."""

from __future__ import annotations

import os

import torch

_configured_threads: int | None = None


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe_device(device: torch.device | None = None) -> str:
    device = device or pick_device()
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return f"CPU: {configure_threads()} threads"


def configure_threads(n: int | None = None) -> int:
    """Call once at start-up: one server shares its cores between every session's requests."""
    global _configured_threads
    if _configured_threads is None:
        n = n or int(os.environ.get("LLM_APP_THREADS", 0)) or (os.cpu_count() or 1)
        torch.set_num_threads(max(1, n))
        _configured_threads = torch.get_num_threads()
    return _configured_threads


def use_one_thread() -> None:
    """Run torch on one thread in the calling thread; other threads keep their own setting.

    A server answers many sessions at once, each in a thread of its own. The forward passes a
    page makes are small: a second thread per request mostly spins, waiting for work, on a core
    that other sessions need (measured on 2 cores: a masking edit cost the server 153 ms of CPU
    with two threads and 98 ms with one, in the same time). Trainings set their own count.
    """
    torch.set_num_threads(1)
