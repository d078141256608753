// `iggy-edge command log`: the command audit trail of the gateway's ledger, for a person or as JSON lines.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { CommandLedger, ledgerPath } from "./ledger.js";

export interface CommandLogOptions {
  config: string;
  dataDir?: string;
  count: number;
  device?: string;
  json?: boolean;
}

/** Prints the records; returns the exit status. */
export async function printCommandLog(o: CommandLogOptions): Promise<number> {
  let dataDir = o.dataDir;
  if (dataDir === undefined) {
    const { ConfigError, loadConfig } = await import("../config.js");
    try {
      dataDir = loadConfig(o.config).config.gateway.data_dir;
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      console.error(e.message);
      return 1;
    }
  }
  const file = ledgerPath(resolve(dataDir));
  if (!existsSync(file)) {
    console.error(
      `iggy-edge command log: no command ledger at ${file} (the gateway has not read a command yet)`,
    );
    return 1;
  }
  const ledger = new CommandLedger(file, { readonly: true });
  try {
    const records = ledger.recent(o.count, o.device);
    for (const r of records) {
      if (o.json) {
        console.log(JSON.stringify({ ...r, at: new Date(r.at).toISOString() }));
        continue;
      }
      const target = r.device === null ? "-" : `${r.device}/${r.point}`;
      console.log(
        `${new Date(r.at).toISOString()}  ${r.id || "(no id)"}  ${target}  ${r.value ?? "-"}  ${r.status}${r.repeat ? " (seen before)" : ""}${r.error ? `: ${r.error}` : ""}`,
      );
    }
    if (records.length === 0 && !o.json) console.log("no commands yet");
    return 0;
  } finally {
    ledger.close();
  }
}
