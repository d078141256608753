"""An OPC-UA client that is not ours (asyncua), to check our simulator from outside.

Usage: asyncua_client.py ENDPOINT [--secure CERT_DIR USER PASSWORD]
With --secure it connects with Basic256Sha256 SignAndEncrypt (its own certificate made in CERT_DIR)
and logs in as USER. It prints {"connected": true} and then answers one JSON line per stdin line:
  info NODE                -> {value, type, status, access, user_access, unit}
  write NODE TYPE VALUE    -> {status}   (VALUE is JSON; 64-bit integers as strings)
It exits when stdin closes.
"""

import asyncio
import json
import logging
import sys
from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

logging.basicConfig(level=logging.ERROR)


def plain(value):
    if isinstance(value, bool) or value is None or isinstance(value, (float, str)):
        return value
    if isinstance(value, int):
        return str(value) if abs(value) > 2**53 else value
    return str(value)


async def info(client, node_text):
    node = client.get_node(node_text)
    dv = await node.read_data_value(raise_on_bad_status=False)
    access = await node.read_attribute(ua.AttributeIds.AccessLevel)
    user_access = await node.read_attribute(ua.AttributeIds.UserAccessLevel)
    unit = None
    try:
        eu = await node.get_child("0:EngineeringUnits")
        unit = (await eu.read_value()).DisplayName.Text
    except ua.UaStatusCodeError:
        pass
    variant = dv.Value
    return {
        "value": plain(variant.Value) if variant is not None else None,
        "type": variant.VariantType.name if variant is not None else None,
        "status": dv.StatusCode.name if dv.StatusCode is not None else "Good",
        "access": access.Value.Value,
        "user_access": user_access.Value.Value,
        "unit": unit,
    }


async def write(client, node_text, type_name, value_text):
    node = client.get_node(node_text)
    vtype = getattr(ua.VariantType, type_name)
    value = json.loads(value_text)
    if type_name in ("Int64", "UInt64", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32"):
        value = int(value)
    try:
        await node.write_value(ua.DataValue(ua.Variant(value, vtype)))
        return {"status": "Good"}
    except ua.UaStatusCodeError as e:
        return {"status": ua.StatusCode(e.code).name}


async def main() -> None:
    endpoint = sys.argv[1]
    client = Client(endpoint, timeout=30)
    if len(sys.argv) > 2 and sys.argv[2] == "--secure":
        from asyncua.crypto.cert_gen import setup_self_signed_certificate
        from cryptography.x509.oid import ExtendedKeyUsageOID

        cert_dir = Path(sys.argv[3])
        cert_dir.mkdir(parents=True, exist_ok=True)
        key, cert = cert_dir / "key.pem", cert_dir / "cert.der"
        uri = "urn:iggy-edge:test:asyncua-client"
        await setup_self_signed_certificate(
            key, cert, uri, "localhost", [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": "asyncua test client"}
        )
        client.application_uri = uri
        await client.set_security(
            SecurityPolicyBasic256Sha256,
            certificate=str(cert),
            private_key=str(key),
            mode=ua.MessageSecurityMode.SignAndEncrypt,
        )
        client.set_user(sys.argv[4])
        client.set_password(sys.argv[5])
    async with client:
        print(json.dumps({"connected": True}), flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            parts = line.strip().split(" ", 3)
            try:
                if parts[0] == "info":
                    out = await info(client, parts[1])
                elif parts[0] == "write":
                    out = await write(client, parts[1], parts[2], parts[3])
                else:
                    out = {"error": f"unknown command {parts[0]}"}
            except Exception as e:  # noqa: BLE001 - the test reads the error
                out = {"error": f"{type(e).__name__}: {e}"}
            print(json.dumps(out), flush=True)


asyncio.run(main())
