#!/usr/bin/env python3
"""The Python reference design for a backfill, to measure ours against: orjson, content deltas skipped by a prefix
check, model calls counted from the usage records. It reads a capture (app-server lines) or rollout files, and
prints the calls and tokens it found. Deliberately minimal: what a team would write in an afternoon.

Usage: reference-replay.py capture FILE | rollouts DIR
"""
import os
import sys

import orjson

DELTA = b'{"method":"item/'


def capture(path):
    calls = tokens = 0
    previous = 0
    with open(path, "rb") as lines:
        for line in lines:
            if line.startswith(DELTA) and b'Delta"' in line[:64]:
                continue
            message = orjson.loads(line)
            if message.get("method") == "thread/tokenUsage/updated":
                total = message["params"]["tokenUsage"]["total"]["totalTokens"]
                if total != previous:
                    calls += 1
                    tokens += total - previous
                    previous = total
    return calls, tokens


def rollouts(folder):
    calls = tokens = 0
    for root, _, names in os.walk(folder):
        for name in sorted(names):
            if not name.endswith(".jsonl"):
                continue
            previous = 0
            with open(os.path.join(root, name), "rb") as lines:
                for line in lines:
                    record = orjson.loads(line)
                    payload = record.get("payload") or {}
                    if payload.get("type") == "token_count" and payload.get("info"):
                        total = payload["info"]["total_token_usage"]["total_tokens"]
                        if total != previous:
                            calls += 1
                            tokens += total - previous
                            previous = total
    return calls, tokens


if __name__ == "__main__":
    kind, path = sys.argv[1], sys.argv[2]
    calls, tokens = capture(path) if kind == "capture" else rollouts(path)
    print(f"{calls} model calls, {tokens} tokens")
