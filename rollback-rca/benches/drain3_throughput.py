#!/usr/bin/env python3
"""Drain3 throughput on a corpus file, with the settings logparse_throughput uses.

Usage: drain3_throughput.py FILE   (requires `pip install drain3`)
Prints: drain3 lines=N seconds=S lines_per_sec=R templates=T
"""
import sys
import time

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: drain3_throughput.py FILE", file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.drain_sim_th = 0.5
    config.drain_depth = 4
    config.drain_max_children = 100
    config.drain_max_clusters = 10_000
    config.masking_instructions = [MaskingInstruction(r"(\d+\.){3}\d+", "*")]
    config.mask_prefix = "<"
    config.mask_suffix = ">"
    miner = TemplateMiner(None, config)
    start = time.perf_counter()
    for line in lines:
        miner.add_log_message(line)
    secs = time.perf_counter() - start
    print(
        f"drain3 lines={len(lines)} seconds={secs:.3f} lines_per_sec={len(lines) / secs:.0f} "
        f"templates={len(miner.drain.clusters)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
