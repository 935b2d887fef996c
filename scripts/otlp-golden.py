#!/usr/bin/env python3
"""Writes golden OTLP protobuf payloads with the official library, from OTLP/JSON descriptions.

Usage: otlp-golden.py DIR   (for each DIR/SIGNAL.json, writes DIR/SIGNAL.pb)
The bytes are whatever opentelemetry-proto's serializer produces: our encoder must produce the same.
"""
import base64
import json
import pathlib
import sys

from google.protobuf import json_format

sys.path.insert(0, str(pathlib.Path(__file__).parent))
decode = __import__("otlp-decode")

folder = pathlib.Path(sys.argv[1])
for signal, request in decode.REQUESTS.items():
    description = json.loads((folder / f"{signal}.json").read_text())
    message = request()
    as_base64 = decode.convert_ids(description, lambda h: base64.b64encode(bytes.fromhex(h)).decode())
    json_format.ParseDict(as_base64, message, ignore_unknown_fields=False)
    (folder / f"{signal}.pb").write_bytes(message.SerializeToString())
    print(f"wrote {folder / f'{signal}.pb'}")
