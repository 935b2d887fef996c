#!/usr/bin/env python3
"""A scriptable OTLP/gRPC collector for fault tests: grpcio's own server, decoding with the official definitions
(opentelemetry-proto), and for stream resets a bare HTTP/2 server of a few frames.

Usage: stand-in-grpc-collector.py --save-dir DIR [--port N] [--respond LIST] [--retry-after SECONDS] [--tls-dir DIR]

--respond is a comma-separated list of answers, one per call, the last repeated:
  ok             OK, with an empty response
  partial        OK, with a partial success rejecting one item
  unavailable    UNAVAILABLE, after the response headers (headers, then trailers)
  trailers-only  UNAVAILABLE, as a trailers-only response
  exhausted      RESOURCE_EXHAUSTED with a RetryInfo asking for --retry-after seconds (default 2)
  exhausted-bare RESOURCE_EXHAUSTED without RetryInfo
  invalid        INVALID_ARGUMENT
  hang           take the call and never answer
  reset          reset the stream (RST_STREAM, INTERNAL_ERROR) without any answer; only alone, as the whole list
Each call is described, before it is answered, in DIR/NNNNN-SIGNAL.request.json: {"path", "status", "items",
"contentType", "headers" (names only), "time"}, and its message saved as NNNNN-SIGNAL.body. Prints `listening PORT`
once ready, and exits when its stdin closes, so it never outlives the test that started it. With --tls-dir it speaks
TLS only (HTTP/2 by ALPN, as gRPC does), with a certificate for 127.0.0.1 left in DIR/certificate.pem.
"""
import argparse
import json
import os
import socket
import struct
import sys
import threading
import time
from concurrent import futures

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
collector = __import__("stand-in-collector")
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2  # noqa: E402
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2  # noqa: E402
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: E402
from google.protobuf import duration_pb2  # noqa: E402

SERVICES = {
    "logs": ("opentelemetry.proto.collector.logs.v1.LogsService", logs_service_pb2.ExportLogsServiceRequest,
             logs_service_pb2.ExportLogsServiceResponse, "rejected_log_records"),
    "traces": ("opentelemetry.proto.collector.trace.v1.TraceService", trace_service_pb2.ExportTraceServiceRequest,
               trace_service_pb2.ExportTraceServiceResponse, "rejected_spans"),
    "metrics": ("opentelemetry.proto.collector.metrics.v1.MetricsService",
                metrics_service_pb2.ExportMetricsServiceRequest, metrics_service_pb2.ExportMetricsServiceResponse,
                "rejected_data_points"),
}


def retry_info(seconds):
    """A google.rpc.Status whose details hold a google.rpc.RetryInfo, written field by field (googleapis' protos are
    not installed): Status { int32 code = 1; string message = 2; repeated Any details = 3 },
    Any { string type_url = 1; bytes value = 2 }, RetryInfo { Duration retry_delay = 1 }."""
    def field(number, payload):
        return bytes([number << 3 | 2, len(payload)]) + payload
    delay = duration_pb2.Duration(seconds=seconds).SerializeToString()
    info = field(1, b"type.googleapis.com/google.rpc.RetryInfo") + field(2, field(1, delay))
    code = grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    return bytes([1 << 3, code]) + field(2, b"slow down") + field(3, info)


class Calls:
    """Numbers the calls and writes down each one, as the HTTP stand-in does."""

    def __init__(self, save_dir, answers):
        self.save_dir, self.answers, self.count, self.lock = save_dir, answers, 0, threading.Lock()

    def take(self, signal, body, headers, content_type):
        """signal: None when it is not known (a reset stream's request), and its items are then not counted."""
        with self.lock:
            n = self.count
            self.count += 1
        answer = self.answers[min(n, len(self.answers) - 1)]
        try:
            items = collector.count_items(signal, SERVICES[signal][1].FromString(body))
        except Exception:
            items = -1
        signal = signal or "unknown"
        with open(os.path.join(self.save_dir, f"{n:05d}-{signal}.body"), "wb") as f:
            f.write(body)
        description = {"path": f"/v1/{signal}", "status": answer, "items": items, "contentType": content_type,
                       "headers": sorted(headers), "time": time.time()}
        with open(os.path.join(self.save_dir, f"{n:05d}-{signal}.request.json"), "w") as f:
            json.dump(description, f)
        return answer


def grpc_server(port, calls, retry_after, tls_dir):
    def handler(signal):
        service, _, response_type, rejected_field = SERVICES[signal]

        def export(body, context):
            metadata = dict(context.invocation_metadata())
            answer = calls.take(signal, body, metadata.keys(), "application/grpc")
            if answer == "hang":
                time.sleep(3600)
            if answer == "ok":
                return b""
            if answer == "partial":
                response = response_type()
                response.partial_success.error_message = "one item is too old"
                setattr(response.partial_success, rejected_field, 1)
                return response.SerializeToString()
            if answer == "unavailable":
                context.send_initial_metadata(())
                context.abort(grpc.StatusCode.UNAVAILABLE, "busy")
            if answer == "trailers-only":
                context.abort(grpc.StatusCode.UNAVAILABLE, "busy")
            if answer == "exhausted":
                context.set_trailing_metadata((("grpc-status-details-bin", retry_info(retry_after)),))
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down")
            if answer == "exhausted-bare":
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "quota")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad")

        return service, grpc.method_handlers_generic_handler(
            service, {"Export": grpc.unary_unary_rpc_method_handler(export)})

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers([handler(signal)[1] for signal in SERVICES])
    if tls_dir:
        certificate, key = collector.make_certificate(tls_dir)
        credentials = grpc.ssl_server_credentials([(open(key, "rb").read(), open(certificate, "rb").read())])
        server.add_secure_port(f"127.0.0.1:{port}", credentials)
    else:
        server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server


def resetting_server(listener, calls):
    """HTTP/2 by prior knowledge, answering every stream with RST_STREAM once its request has come in whole."""

    def frame(kind, flags, stream, payload=b""):
        return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload

    def serve(connection):
        with connection:
            reader = connection.makefile("rb")
            if reader.read(24) != b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n":
                return
            connection.sendall(frame(4, 0, 0))  # our SETTINGS: none
            bodies = {}
            while header := reader.read(9):
                if len(header) < 9:
                    return
                length, kind, flags = int.from_bytes(header[:3], "big"), header[3], header[4]
                stream = int.from_bytes(header[5:9], "big") & 0x7FFFFFFF
                payload = reader.read(length)
                if kind == 4 and not flags & 1:
                    connection.sendall(frame(4, 1, 0))  # SETTINGS ACK
                elif kind == 0:  # DATA
                    bodies[stream] = bodies.get(stream, b"") + payload
                    if length:  # give the window back, to the connection and the stream
                        connection.sendall(frame(8, 0, 0, struct.pack(">I", length)) +
                                           frame(8, 0, stream, struct.pack(">I", length)))
                if kind in (0, 1) and flags & 1:  # END_STREAM: the request is whole
                    message = bodies.pop(stream, b"")[5:]
                    calls.take(None, message, [], "application/grpc")
                    connection.sendall(frame(3, 0, stream, struct.pack(">I", 2)))

    while True:
        connection, _ = listener.accept()
        threading.Thread(target=serve, args=(connection,), daemon=True).start()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--save-dir", required=True)
    parser.add_argument("--respond", default="ok")
    parser.add_argument("--retry-after", type=int, default=2)
    parser.add_argument("--tls-dir")
    args = parser.parse_args()
    calls = Calls(args.save_dir, args.respond.split(","))
    if args.respond == "reset":
        listener = socket.create_server(("127.0.0.1", args.port))
        threading.Thread(target=resetting_server, args=(listener, calls), daemon=True).start()
    else:
        server = grpc_server(args.port, calls, args.retry_after, args.tls_dir)  # noqa: F841 (kept: a server collected stops)
    print(f"listening {args.port}", flush=True)
    collector.exit_when_stdin_closes()


if __name__ == "__main__":
    main()
