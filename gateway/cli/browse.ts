// What `iggy-edge browse opcua` does: connect, walk, print the YAML (or a clear error, exit 1).
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { BrowseCliOptions } from "./browse-command.js";

export async function runBrowse(o: BrowseCliOptions): Promise<number> {
  // node-opcua prints its warnings with console.log: stdout carries only the YAML.
  console.log = console.error;
  const [{ OpcuaConnectError, browseVariables, connectOpcua, deviceYaml }, { LogLevel, setLogLevel }] =
    await Promise.all([import("../../protocols/opcua/browse.js"), import("node-opcua")]);
  if (process.env.IGGY_EDGE_OPCUA_DEBUG === undefined) setLogLevel(LogLevel.Error);
  if (o.passwordFile !== undefined && o.username === undefined) {
    console.error("iggy-edge browse: --password-file needs --username");
    return 2;
  }
  if ((o.userCertificate === undefined) !== (o.userKey === undefined)) {
    console.error("iggy-edge browse: --user-certificate and --user-key go together");
    return 2;
  }
  if (o.userCertificate !== undefined && o.username !== undefined) {
    console.error("iggy-edge browse: one user identity: --username or --user-certificate, not both");
    return 2;
  }
  const userCertificate = o.userCertificate === undefined ? undefined : resolve(o.userCertificate);
  const userPrivateKey = o.userKey === undefined ? undefined : resolve(o.userKey);
  for (const [flag, file] of [
    ["--user-certificate", userCertificate],
    ["--user-key", userPrivateKey],
  ] as const) {
    if (file === undefined) continue;
    try {
      readFileSync(file);
    } catch (e) {
      console.error(`iggy-edge browse: cannot read ${flag}: ${(e as Error).message}`);
      return 2;
    }
  }
  let password: string | undefined;
  if (o.passwordFile !== undefined) {
    try {
      password = readFileSync(o.passwordFile, "utf8").replace(/\r?\n$/, "");
    } catch (e) {
      console.error(`iggy-edge browse: cannot read --password-file: ${(e as Error).message}`);
      return 2;
    }
  }
  const securityPolicy = o.securityPolicy ?? (o.securityMode === "None" ? "None" : "Basic256Sha256");
  let conn;
  try {
    conn = await connectOpcua({
      endpoint: o.endpoint,
      securityMode: o.securityMode,
      securityPolicy,
      username: o.username,
      password,
      userCertificate,
      userPrivateKey,
      pkiDir: o.pkiDir,
      trustUnknownServer: o.trustServer === true,
    });
  } catch (e) {
    if (!(e instanceof OpcuaConnectError)) throw e;
    console.error(`iggy-edge browse: ${e.message}`);
    return 1;
  }
  try {
    const { variables, truncated } = await browseVariables(conn.session, {
      root: o.root,
      depth: o.depth,
      includeStandard: o.includeStandard === true,
    });
    const yaml = deviceYaml(variables, {
      endpoint: o.endpoint,
      deviceId: o.deviceId ?? deviceIdFrom(o.endpoint),
      gatewayId: o.gatewayId,
      securityMode: o.securityMode,
      securityPolicy,
      username: o.username,
      passwordFile: o.passwordFile === undefined ? undefined : resolve(o.passwordFile),
      userCertificate,
      userPrivateKey,
      root: o.root,
      depth: o.depth,
      truncated,
      deviceOnly: o.deviceOnly === true,
    });
    if (o.output !== undefined) writeFileSync(o.output, yaml);
    else process.stdout.write(yaml);
    const points = variables.filter((v) => v.skipped === undefined).length;
    console.error(
      `iggy-edge browse: ${points} point(s), ${variables.length - points} variable(s) skipped${o.output ? `, written to ${o.output}` : ""}`,
    );
    if (points === 0) {
      console.error(
        "iggy-edge browse: no variable of a supported type below the root: try another --root or a greater --depth",
      );
      return 1;
    }
    return 0;
  } catch (e) {
    console.error(`iggy-edge browse: browsing ${o.endpoint} failed: ${(e as Error).message}`);
    return 1;
  } finally {
    await conn.close();
  }
}

/** `opc.tcp://plc-7.local:4840` -> `plc-7-local-4840`. */
export function deviceIdFrom(endpoint: string): string {
  const id = endpoint
    .replace(/^opc\.tcp:\/\//, "")
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return id === "" ? "opcua-device" : id.slice(0, 128);
}
