#!/usr/bin/env python3
"""A stand-in for the OpenAI Responses API, on loopback, for tests that run the real `codex app-server`.

It answers `POST /v1/responses` with a server-sent event stream. The scenario is chosen by a word in the
user's prompt (`scenario:NAME`); once the request carries a tool's output, the model gives its final answer.
Every piece of content it writes carries the marker `ZQXMARK`, so tests can prove none of it is exported.
`scenario:spawn` searches for the collaboration tools and spawns a sub-agent, whose task is `scenario:command`; a
request to compact the context gets a summary. What an agent produces: `scenario:patches` adds, updates, moves and
deletes files (the work folder must hold `ZQXMARK_edit.py`, `ZQXMARK_move.txt` and `ZQXMARK_delete.md` as
`PRODUCTION_FILES` in ProductionLiveTests has them); `commit`, `commit-fail`, `pr` and `mr` run `git commit` (with
something staged, and with nothing), `gh pr create` and `glab mr create`.

Usage: stand-in-model-server.py [--port N]   (prints `listening PORT` once ready; 0 picks a free port)
It exits when its stdin closes, so it never outlives the test that started it.
"""
import argparse
import itertools
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MARK = "ZQXMARK"
RESPONSE_COUNTER = itertools.count(1)


def usage(n):
    """Distinct, predictable token counts per response: input 1000+n (300 cached), output 40+n (10 reasoning)."""
    return {
        "input_tokens": 1000 + n,
        "input_tokens_details": {"cached_tokens": 300},
        "output_tokens": 40 + n,
        "output_tokens_details": {"reasoning_tokens": 10},
        "total_tokens": 1040 + 2 * n,
    }


def message(text):
    return {"type": "message", "role": "assistant", "id": f"msg_{time.time_ns()}",
            "content": [{"type": "output_text", "text": text}]}


def command(call_id, cmd):
    return {"type": "function_call", "name": "exec_command", "call_id": call_id,
            "arguments": json.dumps({"cmd": cmd})}


def patch(call_id, name, body=None):
    body = body or f"*** Begin Patch\n*** Add File: {name}\n+{MARK}_file_content\n*** End Patch\n"
    return {"type": "custom_tool_call", "name": "apply_patch", "call_id": call_id, "input": body}


# One patch that adds a file (2 lines), updates one (2 added, 1 removed), moves one with a change (1 and 1) and
# deletes one (of 2 lines): 5 lines added and 4 removed in 4 files.
PATCHES = (f"*** Begin Patch\n"
           f"*** Add File: {MARK}_new.swift\n+let {MARK}_x = 1\n+let {MARK}_y = 2\n"
           f"*** Update File: {MARK}_edit.py\n@@\n a = '{MARK}'\n-b = 2\n+b = 20\n+b2 = 21\n c = 3\n"
           f"*** Update File: {MARK}_move.txt\n*** Move to: {MARK}_moved.txt\n@@\n-one {MARK}\n+uno {MARK}\n two\n"
           f"*** Delete File: {MARK}_delete.md\n"
           f"*** End Patch\n")


def reasoning():
    return {"type": "reasoning", "id": f"rs_{time.time_ns()}",
            "summary": [{"type": "summary_text", "text": f"{MARK}_reasoning_summary"}]}


def first_response(scenario):
    """The model's first output items for a scenario, before any tool has run."""
    if scenario == "command":
        return [reasoning(), command("call_cmd_1", f"echo {MARK}_command_output")]
    if scenario == "patch":
        return [patch("call_patch_1", f"{MARK}_file.txt")]
    if scenario == "patches":
        return [patch("call_patches_1", None, PATCHES)]
    if scenario == "commit":
        return [command("call_commit_1", f"git add -A && git commit -q -m '{MARK}_commit message'")]
    if scenario == "commit-fail":
        return [command("call_commit_fail_1", f"git commit -m '{MARK}_nothing to commit'")]
    if scenario == "pr":
        return [command("call_pr_1", f"gh pr create --title '{MARK}_title' --body '{MARK}_body'")]
    if scenario == "mr":
        return [command("call_mr_1", f"glab mr create --title '{MARK}_title' --yes")]
    if scenario == "two-tools":
        return [command("call_ok_1", f"echo {MARK}_first_output"),
                command("call_fail_1", f"echo {MARK}_second_output; exit 3")]
    if scenario == "approval":
        return [command("call_approval_1", f"touch {MARK}_needs_approval.txt")]
    if scenario == "search":
        return [{"type": "web_search_call", "id": f"ws_{time.time_ns()}", "status": "completed",
                 "action": {"type": "search", "query": f"{MARK}_search_query"}},
                message(f"{MARK}_answer_after_search")]
    return [message(f"{MARK}_plain_answer")]


def spawn_call(body):
    """A sub-agent's spawn, by the collaboration tool the request's tool search returned (or offered outright)."""
    namespaces = [tool for tool in body.get("tools", []) if tool.get("type") == "namespace"]
    for item in body.get("input", []):
        if item.get("type") == "tool_search_output":
            namespaces += [tool for tool in item.get("tools", []) if tool.get("type") == "namespace"]
    spawns = [(space["name"], tool) for space in namespaces for tool in space.get("tools", [])
              if tool.get("name") == "spawn_agent"]
    namespace, tool = spawns[0] if spawns else (None, {})
    arguments = {"message": f"{MARK}_child_task scenario:command"}
    # Multi-agent v2 names each task (lowercase only) and may fork the parent's history.
    if "task_name" in tool.get("parameters", {}).get("properties", {}):
        arguments.update(task_name="zqxmark_child_task", fork_turns="none")
    return {"type": "function_call", "name": "spawn_agent", "namespace": namespace, "call_id": "call_spawn_1",
            "arguments": json.dumps(arguments)}


def user_texts(body):
    for item in body.get("input", []):
        if item.get("type") == "message" and item.get("role") == "user":
            for part in item.get("content", []):
                if isinstance(part, dict) and "text" in part:
                    yield part["text"]


def has_tool_output_after_last_user_message(body):
    seen_output = False
    for item in body.get("input", []):
        if item.get("type") == "message" and item.get("role") == "user":
            seen_output = False
        elif item.get("type", "").endswith("_call_output"):
            seen_output = True
    return seen_output


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("stand-in: " + (fmt % args) + "\n")

    def do_GET(self):
        self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.endswith("/responses"):
            self.send_json(404, {"error": {"message": "not found"}})
            return
        started = time.time_ns()
        scenario = "plain"
        latency = 0
        for text in user_texts(body):
            found = re.search(r"scenario:([a-z-]+)", text)
            if found:
                scenario = found.group(1)
            slow = re.search(r"latency:([0-9]+)", text)
            if slow:
                latency = int(slow.group(1))
        # A model that takes its time: `latency:MS` in the prompt, before each response.
        time.sleep(latency / 1000)
        texts = list(user_texts(body))
        if texts and "CONTEXT CHECKPOINT COMPACTION" in texts[-1]:
            self.stream([message(f"{MARK}_compaction_summary")], hold_open=False)
            return
        kinds = [item.get("type") for item in body.get("input", [])]
        if scenario == "spawn" and "function_call_output" not in kinds:
            # The collaboration tools are found by a tool search first (Codex 0.163 defers them), then called.
            if "tool_search_output" not in kinds:
                search = {"type": "tool_search_call", "call_id": "call_search_1", "execution": "client",
                          "status": "completed", "arguments": {"query": "spawn a sub-agent"}}
                self.stream([search], hold_open=False)
            else:
                self.stream([spawn_call(body)], hold_open=False)
            return
        if scenario == "fail":
            self.send_json(500, {"error": {"message": f"{MARK}_server_error_text", "type": "server_error"}})
            return
        if has_tool_output_after_last_user_message(body):
            items = [message(f"{MARK}_final_answer")]
        else:
            items = first_response(scenario)
        self.stream(items, hold_open=(scenario == "hang"))
        # Each response's own time, from the request to its last event, for tests that hold calls' spans to it.
        if os.environ.get("STAND_IN_TIMINGS"):
            with open(os.environ["STAND_IN_TIMINGS"], "a") as timings:
                timings.write(json.dumps({"start": started, "end": time.time_ns()}) + "\n")

    def send_json(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def stream(self, items, hold_open):
        n = next(RESPONSE_COUNTER)
        response_id = f"resp_{n}"
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()

        def event(kind, data):
            data["type"] = kind
            self.wfile.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

        try:
            event("response.created", {"response": {"id": response_id}})
            if hold_open:
                # A model that never finishes: the test interrupts the turn. Give up after a minute.
                for _ in range(600):
                    time.sleep(0.1)
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
                return
            for index, item in enumerate(items):
                event("response.output_item.added", {"output_index": index, "item": item})
                if item["type"] == "message":
                    event("response.output_text.delta",
                          {"output_index": index, "content_index": 0, "delta": item["content"][0]["text"]})
                event("response.output_item.done", {"output_index": index, "item": item})
            event("response.completed", {"response": {"id": response_id, "usage": usage(n)}})
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


def exit_when_stdin_closes():
    while sys.stdin.buffer.read1(65536):
        pass
    os._exit(0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    port = parser.parse_args().port
    # Whoever started us holds our stdin: when it goes, however it ends, so do we.
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
