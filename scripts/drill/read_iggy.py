"""Reads a gateway's partition from Apache Iggy with Iggy's own Python SDK (apache-iggy 0.8), not
with any code of the gateway, decodes each MessagePack batch with the documented layout
(test/codecs/fixtures/decode_batch.py) and prints one JSON line per reading:
{"offset", "id", "gateway", "seq", "device", "point", "value"}.

usage: read_iggy.py HOST:PORT USER PASSWORD STREAM TOPIC PARTITION
"""
import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "codecs", "fixtures"))
import decode_batch  # noqa: E402

from apache_iggy import IggyClient, PollingStrategy  # noqa: E402


async def main(address, user, password, stream, topic, partition):
    c = IggyClient(address)
    await c.connect()
    await c.login_user(user, password)
    offset = 0
    out = sys.stdout
    while True:
        page = await c.poll_messages(stream, topic, partition, PollingStrategy.Offset(offset), 1000, False)
        if not page:
            break
        for m in page:
            offset = m.offset() + 1
            gateway, rows = decode_batch.msgpack_readings(bytes(m.payload()))
            for r in sorted(rows, key=lambda r: r["seq"]):
                out.write(json.dumps({
                    "offset": m.offset(), "id": str(m.id()), "gateway": gateway, "seq": r["seq"],
                    "device": r["device"], "point": r["point"], "value": r["value"], "quality": r["quality"],
                }) + "\n")
    out.flush()


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])))
sys.stdout.flush()
# apache-iggy 0.8.0 aborts now and then while the interpreter tears down; leave without teardown.
os._exit(0)
