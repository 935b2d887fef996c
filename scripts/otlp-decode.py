#!/usr/bin/env python3
"""Decodes an OTLP export request with the official definitions (opentelemetry-proto) and prints it as JSON.

Usage: otlp-decode.py logs|traces|metrics protobuf|json FILE

JSON input is read strictly (an unknown field is an error) after turning hex trace and span ids into the base64
that the proto3 JSON mapping expects, as OTLP/JSON receivers do. Output: the proto3 JSON of the message, with
trace and span ids back in hex, so that the two encodings of the same request print the same.
"""
import base64
import json
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

REQUESTS = {"logs": ExportLogsServiceRequest, "traces": ExportTraceServiceRequest, "metrics": ExportMetricsServiceRequest}
ID_KEYS = {"traceId", "spanId", "parentSpanId"}


def convert_ids(value, convert):
    if isinstance(value, dict):
        return {k: (convert(v) if k in ID_KEYS else convert_ids(v, convert)) for k, v in value.items()}
    if isinstance(value, list):
        return [convert_ids(v, convert) for v in value]
    return value


def main():
    signal, encoding, path = sys.argv[1:4]
    message = REQUESTS[signal]()
    data = open(path, "rb").read()
    if encoding == "protobuf":
        message.ParseFromString(data)
        if message.SerializeToString() != data:
            # Not fatal: field order may legitimately differ. Reported for the tests that want canonical bytes.
            sys.stderr.write("note: re-serialization differs from the input\n")
    else:
        as_base64 = convert_ids(json.loads(data), lambda h: base64.b64encode(bytes.fromhex(h)).decode())
        json_format.ParseDict(as_base64, message, ignore_unknown_fields=False)
    printed = json_format.MessageToDict(message, use_integers_for_enums=True)
    print(json.dumps(convert_ids(printed, lambda b: base64.b64decode(b).hex()), sort_keys=True))


if __name__ == "__main__":
    main()
