#!/usr/bin/env python3
"""A real app-server client for the proxy's tests: OpenAI's official Python SDK (`openai-codex`), run as its users run
it, with `codex_bin` set to a wrapper that starts the proxy.

Usage: sdk-client.py CODEX_BIN MODEL_PORT WORK_DIR SCENARIO...
Runs one turn per scenario on one thread, against the stand-in model server on MODEL_PORT, printing after each
`{"turn": ID, "status": …, "totalTokens": N}`. Then it waits for a line on stdin before it closes the SDK, which
closes the app-server's stdin, sends it SIGTERM and kills it two seconds later; then it prints `closed`.
"""
import json
import sys

from openai_codex import Codex, CodexConfig, Sandbox


def main():
    codex_bin, port, work, scenarios = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    overrides = (
        'model_provider="mock"',
        'model_providers.mock.name="mock"',
        f'model_providers.mock.base_url="http://127.0.0.1:{port}/v1"',
        'model_providers.mock.wire_api="responses"',
        "model_providers.mock.request_max_retries=0",
        "model_providers.mock.stream_max_retries=0",
        'model="gpt-5.5"',
    )
    with Codex(CodexConfig(codex_bin=codex_bin, config_overrides=overrides, cwd=work)) as codex:
        thread = codex.thread_start(sandbox=Sandbox.full_access)
        for scenario in scenarios:
            result = thread.run(f"ZQXMARK_prompt_{scenario} scenario:{scenario}")
            total = result.usage.total.total_tokens if result.usage else None
            print(json.dumps({"turn": result.id, "status": result.status.value, "totalTokens": total}), flush=True)
        sys.stdin.readline()
    print("closed", flush=True)


if __name__ == "__main__":
    main()
