// `iggy-edge opcua trust [CERT]`: the gateway's trust list of OPC-UA server certificates. Without
// CERT it lists the rejected ones (servers the gateway refused); with CERT (a thumbprint prefix or a
// file name from that list) it moves that one to trusted/, where the running gateway finds it.
import { Command } from "commander";
import { configOption } from "./config-option.js";

export interface TrustCliOptions {
  config: string;
  dataDir?: string;
  pkiDir?: string;
  json?: boolean;
}

export function opcuaCommand(): Command {
  const root = new Command("opcua").description("OPC-UA tools: the trust list of server certificates");
  root
    .command("trust")
    .description(
      "list the server certificates the gateway refused, or trust one (by thumbprint prefix or file name)",
    )
    .argument("[cert]", "the rejected certificate to trust: a thumbprint prefix or its file name")
    .addOption(configOption())
    .option("--data-dir <dir>", "the gateway's data directory (instead of gateway.data_dir of the config)")
    .option(
      "--pki-dir <dir>",
      "a PKI folder of its own (such as `browse --pki-dir`) instead of the gateway's",
    )
    .option("--json", "list as JSON lines")
    .action(async (cert: string | undefined, o: TrustCliOptions) => {
      const { runTrust } = await import("./opcua-trust.js");
      process.exitCode = await runTrust(cert, o);
    });
  return root;
}
