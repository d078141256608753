// Checks that span more than one key of a valid-shaped config: each returns the path it blames.
import type { Config } from "./schema.js";

export interface RuleIssue {
  path: (string | number)[];
  message: string;
}

export function crossChecks(config: Config): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const deviceIds = new Map<string, number>();
  config.devices.forEach((d, i) => {
    const first = deviceIds.get(d.id);
    if (first !== undefined) {
      issues.push({
        path: ["devices", i, "id"],
        message: `duplicate device id '${d.id}' (first used by devices[${first}])`,
      });
    } else {
      deviceIds.set(d.id, i);
    }
    const pointNames = new Map<string, number>();
    d.points.forEach((p, j) => {
      const firstPoint = pointNames.get(p.name);
      if (firstPoint !== undefined) {
        issues.push({
          path: ["devices", i, "points", j, "name"],
          message: `duplicate point name '${p.name}' in device '${d.id}' (first used by points[${firstPoint}])`,
        });
      } else {
        pointNames.set(p.name, j);
      }
    });
    if (d.protocol === "mqtt" && d.connection === undefined && config.mqtt?.broker === undefined) {
      issues.push({
        path: ["devices", i],
        message: `device '${d.id}' publishes to the embedded broker, but mqtt.broker is not configured (or give the device connection: { url: ... } for a site broker)`,
      });
    }
  });

  // Two different site connections with one client id would take the session from each other in turn.
  const clientIds = new Map<string, { url: string; index: number }>();
  config.devices.forEach((d, i) => {
    if (d.protocol !== "mqtt" || d.connection === undefined) return;
    const c = d.connection;
    if (c.reconnect_min_ms > c.reconnect_max_ms) {
      issues.push({
        path: ["devices", i, "connection", "reconnect_min_ms"],
        message: "reconnect_min_ms is greater than reconnect_max_ms",
      });
    }
    if (c.client_id === undefined) return;
    const first = clientIds.get(c.client_id);
    if (first === undefined) clientIds.set(c.client_id, { url: c.url, index: i });
    else if (
      first.url !== c.url ||
      JSON.stringify(config.devices[first.index]?.connection) !== JSON.stringify(c)
    ) {
      issues.push({
        path: ["devices", i, "connection", "client_id"],
        message: `client_id '${c.client_id}' is also used by devices[${first.index}] with other connection settings: give each connection its own client_id, or the same settings`,
      });
    }
  });

  const broker = config.mqtt?.broker;
  if (broker && broker.users.length === 0 && !broker.allow_anonymous) {
    issues.push({
      path: ["mqtt", "broker"],
      message:
        "the embedded broker requires credentials: add users (or set allow_anonymous: true, which is not recommended)",
    });
  }
  const listeners = new Map<string, string>();
  const claim = (address: string | undefined, path: (string | number)[]) => {
    if (address === undefined) return;
    const owner = listeners.get(address);
    if (owner) issues.push({ path, message: `${address} is already the listen address of ${owner}` });
    else listeners.set(address, path.join("."));
  };
  claim(config.http.listen, ["http", "listen"]);
  claim(broker?.listen, ["mqtt", "broker", "listen"]);
  claim(broker?.websocket?.listen, ["mqtt", "broker", "websocket", "listen"]);
  claim(config.coap?.listen, ["coap", "listen"]);
  return issues;
}
