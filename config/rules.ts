// Checks that span more than one key of a valid-shaped config: the ones every config needs (unique
// device ids and point names, no two listeners on one address), then each plug-in's own.
import type { AnyDeviceConfig, AnySpec, CoreConfig, RuleIssue } from "./schema.js";

type Checked = CoreConfig & { devices: AnyDeviceConfig[] };

export function crossChecks(config: Checked, plugins: readonly AnySpec[]): RuleIssue[] {
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
  });

  const listeners = new Map<string, string>();
  const claim = (address: string, path: (string | number)[]) => {
    const owner = listeners.get(address);
    if (owner) issues.push({ path, message: `${address} is already the listen address of ${owner}` });
    else listeners.set(address, path.join("."));
  };
  claim(config.http.listen, ["http", "listen"]);

  const sections = config as unknown as Record<string, unknown>;
  for (const plugin of plugins) {
    const section = sections[plugin.name];
    // A device whose protocol is the plug-in's passed the plug-in's own schema.
    const devices = config.devices.flatMap((device, index) =>
      device.protocol === plugin.name
        ? [{ device: device as unknown as Record<string, unknown>, index }]
        : [],
    );
    issues.push(...(plugin.check?.({ devices, section }) ?? []));
    for (const l of plugin.listeners?.(section) ?? []) claim(l.address, l.path);
  }
  return issues;
}
