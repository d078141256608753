"""An OPC-UA server that is not ours (asyncua), for the browse tests.

Usage: asyncua_browse_server.py PORT
Serves, under Objects/Boiler (namespace urn:iggy-edge:test), a variable of every type iggy-edge reads
(read-only and writable ones, string and numeric NodeIds, some with EngineeringUnits), a Duration
(a subtype of Double), and two it does not read (a DateTime, an Int32 array). When it listens it
prints one JSON line {"ready": true, "endpoint": URL, "variables": [{browse_name, node, type,
writable, unit, supported}]}; it stops when its stdin closes.
"""

import asyncio
import datetime
import json
import logging
import sys

from asyncua import Server, ua

logging.basicConfig(level=logging.ERROR)

# (browse name, NodeId identifier (str or int), VariantType, value, writable, unit)
VARIABLES = [
    ("Running", "Running", ua.VariantType.Boolean, True, True, None),
    ("Level.SByte", "Small", ua.VariantType.SByte, -5, False, None),
    ("Mode", 5001, ua.VariantType.Byte, 3, True, None),
    ("Pressure", "Pressure", ua.VariantType.Int16, -120, False, "mbar"),
    ("Count16", 5002, ua.VariantType.UInt16, 60000, False, None),
    ("Position", "Position", ua.VariantType.Int32, -70000, True, "mm"),
    ("Hours", "Hours", ua.VariantType.UInt32, 4000000000, False, "h"),
    ("Energy", "Energy", ua.VariantType.Int64, -(2**40), False, "Wh"),
    ("Serial", "Serial", ua.VariantType.UInt64, 2**60, False, None),
    ("Temperature", "Temperature", ua.VariantType.Float, 21.5, False, "degC"),
    ("Setpoint", "Setpoint", ua.VariantType.Double, 65.0, True, "degC"),
    ("Label", "Label", ua.VariantType.String, "boiler", True, None),
]


async def main() -> None:
    port = int(sys.argv[1])
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    idx = await server.register_namespace("urn:iggy-edge:test")
    boiler = await server.nodes.objects.add_object(ua.NodeId("Boiler", idx), "Boiler")
    manifest = []
    for name, ident, vtype, value, writable, unit in VARIABLES:
        node_id = ua.NodeId(ident, idx)
        var = await boiler.add_variable(node_id, ua.QualifiedName(name, idx), ua.Variant(value, vtype))
        if writable:
            await var.set_writable()
        if unit is not None:
            eu = ua.EUInformation(
                NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact",
                UnitId=-1,
                DisplayName=ua.LocalizedText(unit),
                Description=ua.LocalizedText(unit),
            )
            await var.add_property(
                ua.NodeId(f"{ident}.EU" if isinstance(ident, str) else ident + 100000, idx),
                ua.QualifiedName("EngineeringUnits", 0),
                ua.Variant(eu, ua.VariantType.ExtensionObject),
                datatype=ua.NodeId(ua.ObjectIds.EUInformation),
            )
        manifest.append(
            {
                "browse_name": name,
                "node": node_id.to_string(),
                "type": vtype.name,
                "writable": writable,
                "unit": unit,
                "supported": True,
            }
        )
    cycle = await boiler.add_variable(
        ua.NodeId("Cycle", idx), ua.QualifiedName("Cycle", idx), ua.Variant(250.0, ua.VariantType.Double),
        datatype=ua.NodeId(ua.ObjectIds.Duration),
    )
    manifest.append(
        {"browse_name": "Cycle", "node": cycle.nodeid.to_string(), "type": "Double", "writable": False,
         "unit": None, "supported": True}
    )
    stamp = await boiler.add_variable(
        ua.NodeId("Stamp", idx), ua.QualifiedName("Stamp", idx),
        ua.Variant(datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc), ua.VariantType.DateTime),
    )
    manifest.append(
        {"browse_name": "Stamp", "node": stamp.nodeid.to_string(), "type": "DateTime", "writable": False,
         "unit": None, "supported": False}
    )
    arr = await boiler.add_variable(
        ua.NodeId("Samples", idx), ua.QualifiedName("Samples", idx), ua.Variant([1, 2, 3], ua.VariantType.Int32)
    )
    await arr.write_value_rank(1)
    manifest.append(
        {"browse_name": "Samples", "node": arr.nodeid.to_string(), "type": "Int32", "writable": False,
         "unit": None, "supported": False}
    )
    async with server:
        print(json.dumps({"ready": True, "endpoint": f"opc.tcp://127.0.0.1:{port}", "variables": manifest}),
              flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


asyncio.run(main())
