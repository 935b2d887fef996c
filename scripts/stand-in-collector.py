#!/usr/bin/env python3
"""A scriptable OTLP/HTTP collector for fault tests, decoding with the official definitions (opentelemetry-proto).

Usage: stand-in-collector.py --save-dir DIR [--port N] [--respond LIST] [--retry-after SECONDS] [--location URL]
                             [--tls-dir DIR]

--respond is a comma-separated list of answers, one per request, the last repeated: 200, 400, 429, 503, 504
(503 and 429 carry Retry-After when given; 301, 307 and 308 carry Location, a URL), partial (200 with a partial success rejecting one item), hang
(accept the request and never answer). Each request's body is saved to DIR as NNNNN-SIGNAL.body and, before it is
answered, described in NNNNN-SIGNAL.request.json: {"path", "status", "items", "contentType", "headers" (names
only)}. Prints `listening PORT` once ready, and exits when its stdin closes, so it never outlives the test that
started it. With --tls-dir it speaks https only, with a certificate for 127.0.0.1 made for the run by `openssl` and
left in DIR/certificate.pem for the client to trust.
"""
import argparse
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
decode = __import__("otlp-decode")
from google.protobuf import json_format  # noqa: E402

ITEMS = {"logs": ("resource_logs", "scope_logs", "log_records"),
         "traces": ("resource_spans", "scope_spans", "spans"),
         "metrics": ("resource_metrics", "scope_metrics", "metrics")}
REJECTED = {"logs": "rejectedLogRecords", "traces": "rejectedSpans", "metrics": "rejectedDataPoints"}


def count_items(signal, message):
    group, scope, key = ITEMS[signal]
    total = 0
    for resource in getattr(message, group):
        for scoped in getattr(resource, scope):
            for item in getattr(scoped, key):
                if signal == "metrics":
                    data = item.WhichOneof("data")
                    total += len(getattr(item, data).data_points)
                else:
                    total += 1
    return total


def make_certificate(directory):
    """A certificate for 127.0.0.1 made for the run, and its key: DIR/certificate.pem, for the client to trust."""
    certificate, key = os.path.join(directory, "certificate.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", certificate], check=True, capture_output=True)
    return certificate, key


def exit_when_stdin_closes():
    while sys.stdin.buffer.read1(65536):
        pass
    os._exit(0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--save-dir", required=True)
    parser.add_argument("--respond", default="200")
    parser.add_argument("--retry-after")
    parser.add_argument("--location")
    parser.add_argument("--tls-dir")
    args = parser.parse_args()
    answers = args.respond.split(",")
    counter = {"n": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if self.headers.get("content-encoding") == "gzip":
                body = __import__("gzip").decompress(body)
            with lock:
                n = counter["n"]
                counter["n"] += 1
            answer = answers[min(n, len(answers) - 1)]
            signal = self.path.rsplit("/", 1)[-1]
            content_type = self.headers.get("content-type", "")
            with open(os.path.join(args.save_dir, f"{n:05d}-{signal}.body"), "wb") as f:
                f.write(body)
            message = decode.REQUESTS[signal]()
            if content_type == "application/json":
                json_format.ParseDict(decode.convert_ids(json.loads(body), lambda h: __import__("base64").b64encode(bytes.fromhex(h)).decode()), message)
            else:
                message.ParseFromString(body)
            items = count_items(signal, message)
            headers = sorted(name.lower() for name in self.headers.keys())
            status = "hang" if answer == "hang" else str(200 if answer == "partial" else int(answer))
            description = {"path": self.path, "status": status, "items": items, "contentType": content_type, "headers": headers}
            # Written under a temporary name and renamed, so a reader never sees half of it.
            described = os.path.join(args.save_dir, f"{n:05d}-{signal}.request.json")
            with open(described + ".tmp", "w") as f:
                json.dump(description, f)
            os.rename(described + ".tmp", described)
            if answer == "hang":
                time.sleep(3600)
                return
            status = int(status)
            payload = b""
            if answer == "partial":
                payload = json.dumps({"partialSuccess": {REJECTED[signal]: "1", "errorMessage": "one item refused"}}).encode() \
                    if content_type == "application/json" else bytes([0x0a, 0x14, 0x08, 0x01, 0x12, 0x10]) + b"one item refused"
            self.send_response(status)
            if status in (429, 503) and args.retry_after:
                self.send_header("Retry-After", args.retry_after)
            if status in (301, 307, 308) and args.location:
                self.send_header("Location", args.location)
            self.send_header("content-type", content_type or "application/x-protobuf")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    # Whoever started us holds our stdin: when it goes, however it ends, so do we.
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.tls_dir:
        certificate, key = make_certificate(args.tls_dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
