"""An OPC-UA server made with asyncua (not ours), the independent peer of the OPC-UA adapter's tests.

Usage: asyncua_server.py --port PORT [--secure DIR [--policy POLICY]] [--user NAME:PASSWORD]
                         [--x509-user DIR] [--animate-ms MS]

Serves, in namespace 2 (string NodeIds, also reachable by the browse path Objects/2:Press/2:NAME):
  Counter (Int32, +1 every --animate-ms), Temperature (Double, changes with Counter),
  Level (Int32, read-only, set from stdin), Sensor (Double, Bad_SensorFailure until set),
  Locked (Double, not writable on the server), and writable variables of every scalar type:
  Setpoint (Double) and W_Boolean, W_SByte, W_Byte, W_Int16, W_UInt16, W_Int32, W_UInt32, W_Int64,
  W_UInt64, W_Float, W_Double, W_String.
--secure DIR: the only endpoint is SignAndEncrypt with --policy (Basic256Sha256, the default,
Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss), with a certificate made in DIR (DIR/server_cert.der,
DIR/server_key.pem); --user: that user name and password are accepted, and anonymous clients refused.
--x509-user DIR: X.509 user authentication only: makes DIR/user_cert.pem + DIR/user_key.pem (the one
user certificate accepted) and DIR/stranger_cert.pem + DIR/stranger_key.pem (refused).

Prints JSON lines on stdout: {"ready": PORT} once listening; {"write": NAME, "value": V, "type": T}
for every write a client made (whether or not the server accepted it); {"pong": ID} for a ping.
Reads JSON commands on stdin, one a line:
  {"set": NAME, "value": V, "ts": MS?}    sets a variable (keeping its type), source timestamp MS
  {"status": NAME, "code": "BadSensorFailure"}   sets a variable's status (no value)
  {"ping": ID}                             answers {"pong": ID} (everything before it was done)
"""
import argparse
import asyncio
import datetime
import json
import socket
import sys
from pathlib import Path

from asyncua import Server, ua
from asyncua.common.callback import CallbackType
from asyncua.crypto.permission_rules import User, UserRole

WRITABLE = {
    "Boolean": (ua.VariantType.Boolean, False),
    "SByte": (ua.VariantType.SByte, 0),
    "Byte": (ua.VariantType.Byte, 0),
    "Int16": (ua.VariantType.Int16, 0),
    "UInt16": (ua.VariantType.UInt16, 0),
    "Int32": (ua.VariantType.Int32, 0),
    "UInt32": (ua.VariantType.UInt32, 0),
    "Int64": (ua.VariantType.Int64, 0),
    "UInt64": (ua.VariantType.UInt64, 0),
    "Float": (ua.VariantType.Float, 0.0),
    "Double": (ua.VariantType.Double, 0.0),
    "String": (ua.VariantType.String, ""),
}


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class OneUser:
    def __init__(self, name, password):
        self.name = name
        self.password = password

    def get_user(self, iserver, username=None, password=None, certificate=None):
        if username == self.name and password == self.password:
            return User(role=UserRole.User)
        return None


async def certificate_users(d):
    """Makes the accepted user's certificate and a stranger's (PEM, with their keys) in d."""
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from asyncua.crypto.uacrypto import load_certificate
    from asyncua.server.user_managers import CertificateUserManager
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtendedKeyUsageOID

    d.mkdir(parents=True, exist_ok=True)
    for who in ("user", "stranger"):
        der, key = d / f"{who}_cert.der", d / f"{who}_key.pem"
        await setup_self_signed_certificate(
            key,
            der,
            f"urn:iggy-edge:test:{who}",
            "localhost",
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": f"iggy-edge test {who}", "organizationName": "iggy-edge tests"},
        )
        cert = await load_certificate(der)
        (d / f"{who}_cert.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    users = CertificateUserManager()
    await users.add_user(d / "user_cert.der", name="gateway-user")
    return users


def plain(v):
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53:
        return str(v)  # exact in JSON readers that hold numbers as doubles
    if isinstance(v, (int, float, bool, str)) or v is None:
        return v
    return str(v)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--secure")
    ap.add_argument("--user")
    ap.add_argument(
        "--policy",
        choices=["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"],
        default="Basic256Sha256",
    )
    ap.add_argument("--x509-user")
    ap.add_argument("--animate-ms", type=int, default=100)
    args = ap.parse_args()

    user_manager = None
    if args.user:
        name, _, password = args.user.partition(":")
        user_manager = OneUser(name, password)
    if args.x509_user:
        user_manager = await certificate_users(Path(args.x509_user))
    server = Server(user_manager=user_manager) if user_manager else Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{args.port}/")
    server.set_server_name("asyncua peer of iggy-edge")
    if args.secure:
        from asyncua.crypto.cert_gen import setup_self_signed_certificate
        from cryptography.x509.oid import ExtendedKeyUsageOID

        d = Path(args.secure)
        d.mkdir(parents=True, exist_ok=True)
        cert, key = d / "server_cert.der", d / "server_key.pem"
        await setup_self_signed_certificate(
            key,
            cert,
            server.get_application_uri(),
            socket.gethostname(),
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": "asyncua-peer", "organizationName": "iggy-edge tests", "countryName": "DE"},
        )
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        policy = {
            "Basic256Sha256": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
            "Aes128_Sha256_RsaOaep": ua.SecurityPolicyType.Aes128Sha256RsaOaep_SignAndEncrypt,
            "Aes256_Sha256_RsaPss": ua.SecurityPolicyType.Aes256Sha256RsaPss_SignAndEncrypt,
        }[args.policy]
        server.set_security_policy([policy])
    if args.user:
        server.set_identity_tokens([ua.UserNameIdentityToken])
    if args.x509_user:
        server.set_identity_tokens([ua.X509IdentityToken])

    idx = await server.register_namespace("urn:iggy-edge:test")
    press = await server.nodes.objects.add_object(ua.NodeId("Press", idx), ua.QualifiedName("Press", idx))
    nodes = {}
    types = {}

    async def var(name, vtype, value, writable=False):
        n = await press.add_variable(
            ua.NodeId(name, idx), ua.QualifiedName(name, idx), ua.Variant(value, vtype)
        )
        if writable:
            await n.set_writable()
        nodes[name] = n
        types[name] = vtype
        return n

    await var("Counter", ua.VariantType.Int32, 0)
    await var("Temperature", ua.VariantType.Double, 20.0)
    await var("Level", ua.VariantType.Int32, 0)
    await var("Sensor", ua.VariantType.Double, 0.0)
    await var("Locked", ua.VariantType.Double, 1.5)
    await var("Setpoint", ua.VariantType.Double, 0.0, writable=True)
    for t, (vt, v) in WRITABLE.items():
        await var(f"W_{t}", vt, v, writable=True)

    by_id = {n.nodeid: name for name, n in nodes.items()}

    def on_write(event, _dispatcher=None):
        if not event.is_external:
            return
        for w in event.request_params.NodesToWrite:
            name = by_id.get(w.NodeId)
            if name is None:
                continue
            v = w.Value.Value
            out({"write": name, "value": plain(v.Value), "type": v.VariantType.name})

    server.subscribe_server_callback(CallbackType.PreWrite, on_write)

    async def set_status(name, code):
        await server.write_attribute_value(
            nodes[name].nodeid,
            ua.DataValue(StatusCode=ua.StatusCode(getattr(ua.StatusCodes, code))),
        )

    async with server:
        await set_status("Sensor", "BadSensorFailure")
        out({"ready": args.port})

        async def animate():
            n = 0
            while True:
                await asyncio.sleep(args.animate_ms / 1000)
                n += 1
                await nodes["Counter"].write_value(ua.Variant(n, ua.VariantType.Int32))
                await nodes["Temperature"].write_value(ua.Variant(20.0 + (n % 50) / 10, ua.VariantType.Double))

        animator = asyncio.create_task(animate()) if args.animate_ms > 0 else None
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                break
            cmd = json.loads(line)
            if "set" in cmd:
                name = cmd["set"]
                ts = cmd.get("ts")
                src = (
                    datetime.datetime.fromtimestamp(ts / 1000, datetime.timezone.utc)
                    if ts is not None
                    else datetime.datetime.now(datetime.timezone.utc)
                )
                await server.write_attribute_value(
                    nodes[name].nodeid,
                    ua.DataValue(Value=ua.Variant(cmd["value"], types[name]), SourceTimestamp=src),
                )
            elif "status" in cmd:
                await set_status(cmd["status"], cmd["code"])
            elif "ping" in cmd:
                out({"pong": cmd["ping"]})
        if animator:
            animator.cancel()


if __name__ == "__main__":
    asyncio.run(main())
