"""A Modbus TCP server made with pymodbus (not ours), serving known values of every type and byte order.

Usage: pymodbus_server.py PORT
Prints one JSON line (the manifest: points with their expected values) once listening, then answers
commands on stdin, one a line: "get TABLE ADDRESS COUNT" prints the registers/bits (read with pymodbus's client) as a JSON list.
The registers are packed here with struct, independently of the gateway's codec; for ABCD and CDAB
they are also checked against pymodbus's own convert_to_registers.
"""
import asyncio
import json
import os
import struct
import sys

from pymodbus.client import ModbusTcpClient
from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.server import StartAsyncTcpServer

D = ModbusTcpClient.DATATYPE
TYPES = {
    "int16": (">h", D.INT16),
    "uint16": (">H", D.UINT16),
    "int32": (">i", D.INT32),
    "uint32": (">I", D.UINT32),
    "int64": (">q", D.INT64),
    "uint64": (">Q", D.UINT64),
    "float32": (">f", D.FLOAT32),
    "float64": (">d", D.FLOAT64),
}
VALUES = {
    "int16": -12345,
    "uint16": 54321,
    "int32": -123456789,
    "uint32": 3000000000,
    "int64": -1234567890123456789,
    "uint64": 18000000000000000000,
    "float32": 123.456,
    "float64": -9876.54321,
}


def words(b):
    return [(b[i] << 8) | b[i + 1] for i in range(0, len(b), 2)]


def place(big_endian_bytes, order):
    b = bytearray(big_endian_bytes)
    if order in ("BADC", "DCBA"):
        for i in range(0, len(b), 2):
            b[i], b[i + 1] = b[i + 1], b[i]
    w = words(b)
    if order in ("CDAB", "DCBA"):
        w.reverse()
    return w


def main():
    port = int(sys.argv[1])
    hr = [0] * 300
    points = []
    addr = 0
    for order in ("ABCD", "CDAB", "BADC", "DCBA"):
        for t, (fmt, dt) in TYPES.items():
            v = VALUES[t]
            regs = place(struct.pack(fmt, v), order)
            if order in ("ABCD", "CDAB"):
                assert regs == ModbusTcpClient.convert_to_registers(v, dt, word_order="big" if order == "ABCD" else "little"), (t, order)
            hr[addr : addr + len(regs)] = regs
            expected = struct.unpack(fmt, struct.pack(fmt, v))[0]  # float32 rounded as the device holds it
            points.append({"name": f"{t}_{order}", "address": f"holding:{addr}", "type": t, "order": order,
                           "value": str(expected) if t in ("int64", "uint64") else expected})
            addr += len(regs)
        s = b"PUMP-7".ljust(10, b"\0")
        if order in ("BADC", "DCBA"):
            s = bytes(x for i in range(0, 10, 2) for x in (s[i + 1], s[i]))
        hr[addr : addr + 5] = words(s)
        points.append({"name": f"string_{order}", "address": f"holding:{addr}", "type": "string", "order": order,
                       "length": 5, "value": "PUMP-7"})
        addr += 5
    hr[200] = 0b1010_0000_0000_0100  # bits 2, 13, 15
    points.append({"name": "bit2", "address": "holding:200", "type": "bool", "bit": 2, "value": True})
    points.append({"name": "bit3", "address": "holding:200", "type": "bool", "bit": 3, "value": False})
    points.append({"name": "bit15", "address": "holding:200", "type": "bool", "bit": 15, "value": True})
    hr[201] = 215
    points.append({"name": "scaled", "address": "holding:201", "type": "int16", "scale": 0.1, "value": 21.5})
    ir = [0] * 20
    ir[4] = 4321
    points.append({"name": "input4", "address": "input:4", "type": "uint16", "value": 4321})
    co = [False] * 40
    co[3] = True
    co[37] = True
    points.append({"name": "coil3", "address": "coil:3", "type": "bool", "value": True})
    points.append({"name": "coil4", "address": "coil:4", "type": "bool", "value": False})
    points.append({"name": "coil37", "address": "coil:37", "type": "bool", "value": True})
    di = [False] * 20
    di[9] = True
    points.append({"name": "di9", "address": "discrete:9", "type": "bool", "value": True})

    # pymodbus's device context addresses block position 1 as protocol address 0.
    device = ModbusDeviceContext(
        di=ModbusSequentialDataBlock(1, di),
        co=ModbusSequentialDataBlock(1, co),
        hr=ModbusSequentialDataBlock(1, hr),
        ir=ModbusSequentialDataBlock(1, ir),
    )
    context = ModbusServerContext(devices={1: device}, single=False)

    def read_back(table, address, count):
        # Read through pymodbus's own client, so the check of a write involves no code of ours.
        client = ModbusTcpClient("127.0.0.1", port=port)
        client.connect()
        try:
            if table in ("coil", "discrete"):
                fn = client.read_coils if table == "coil" else client.read_discrete_inputs
                return [int(b) for b in fn(address, count=count, device_id=1).bits[:count]]
            fn = client.read_holding_registers if table == "holding" else client.read_input_registers
            return fn(address, count=count, device_id=1).registers
        finally:
            client.close()

    async def control():
        loop = asyncio.get_running_loop()
        print(json.dumps({"points": points}), flush=True)
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            parts = line.split()
            if len(parts) == 4 and parts[0] == "get":
                vals = await loop.run_in_executor(None, read_back, parts[1], int(parts[2]), int(parts[3]))
                print(json.dumps(vals), flush=True)
        os._exit(0)

    async def run():
        asyncio.get_running_loop().call_later(0.2, lambda: asyncio.ensure_future(control()))
        await StartAsyncTcpServer(context=context, address=("127.0.0.1", port))

    asyncio.run(run())


if __name__ == "__main__":
    main()
