"""Threads: a request runs torch on one thread without changing what other threads use."""

from __future__ import annotations

import threading

import torch

from llm_core import device


def test_one_thread_is_the_calling_threads_own_setting():
    before = torch.get_num_threads()
    seen = {}

    def request() -> None:
        torch.set_num_threads(2)
        device.use_one_thread()
        seen["request"] = torch.get_num_threads()

    worker = threading.Thread(target=request)
    worker.start()
    worker.join()
    assert seen["request"] == 1
    assert torch.get_num_threads() == before  # the thread that configured torch keeps its count
    torch.set_num_threads(before)  # new threads start from the last count set anywhere


def test_the_device_line_names_the_threads_configured_for_the_server():
    if torch.cuda.is_available():
        assert device.describe_device().startswith("GPU: ")
    else:
        assert device.describe_device(torch.device("cpu")) == f"CPU: {device.configure_threads()} threads"
