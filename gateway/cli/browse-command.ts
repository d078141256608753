// `iggy-edge browse opcua`: walks a server's address space and prints a device map for it (the work
// is in protocols/opcua/browse.ts, imported with node-opcua only when the command runs).
import { Command, InvalidArgumentError, Option } from "commander";

interface BrowseCliOptions {
  endpoint: string;
  root: string;
  depth: number;
  securityMode: "None" | "Sign" | "SignAndEncrypt";
  securityPolicy?: "None" | "Basic256Sha256" | "Aes128_Sha256_RsaOaep" | "Aes256_Sha256_RsaPss";
  username?: string;
  passwordFile?: string;
  userCertificate?: string;
  userKey?: string;
  pkiDir: string;
  trustServer?: boolean;
  deviceId?: string;
  gatewayId: string;
  deviceOnly?: boolean;
  includeStandard?: boolean;
  output?: string;
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

export function browseCommand(): Command {
  return new Command("browse")
    .description("walk a device's address space and print a device map (YAML points) that `check` accepts")
    .argument("<protocol>", "the protocol to browse (opcua)")
    .requiredOption("--endpoint <url>", "the server, such as opc.tcp://127.0.0.1:4840")
    .option("--root <nodeId>", "the node to start from", "i=85")
    .option("--depth <n>", "how many levels below the root", positive, 10)
    .addOption(
      new Option("--security-mode <mode>", "message security")
        .choices(["None", "Sign", "SignAndEncrypt"])
        .default("None"),
    )
    .addOption(
      new Option(
        "--security-policy <policy>",
        "security policy (default: Basic256Sha256 when signed)",
      ).choices(["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]),
    )
    .option("--username <name>", "log in with this user name (default: anonymous)")
    .option("--password-file <file>", "the user's password, read from this file (its path goes into the map)")
    .option(
      "--user-certificate <file>",
      "log in as the X.509 user of this certificate (PEM or DER; with --user-key; its path goes into the map)",
    )
    .option("--user-key <file>", "the user certificate's private key (PEM)")
    .option("--pki-dir <dir>", "the client's certificate and its trust list of servers", "./data/opcua-pki")
    .option("--trust-server", "trust the server's certificate if it is not in the trust list yet")
    .option("--device-id <id>", "the device's id in the map (default: from the endpoint)")
    .option("--gateway-id <id>", "the gateway id of the printed config", "edge")
    .option("--device-only", "print only the device entry, to paste under an existing `devices:`")
    .option("--include-standard", "also list variables of namespace 0 (the server's own diagnostics)")
    .option("-o, --output <file>", "write the YAML to this file instead of stdout")
    .action(async (protocol: string, o: BrowseCliOptions) => {
      if (protocol !== "opcua") {
        console.error(`iggy-edge browse: only opcua can be browsed (got '${protocol}')`);
        process.exitCode = 2;
        return;
      }
      const { runBrowse } = await import("./browse.js");
      process.exitCode = await runBrowse(o);
    });
}

export type { BrowseCliOptions };
