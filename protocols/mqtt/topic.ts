// MQTT topic filters: matching a topic name, one filter covering another (for the subscribe ACL), and
// point patterns whose `+` levels carry names that bind the device id, the point name or tags.

const PLUS = 0x2b;
const HASH = 0x23;
const DOLLAR = 0x24;

/**
 * True when `topic` (a topic name, no wildcards) matches `filter`. Runs for every publish (the ACL
 * check, the routing), so it compares level by level in place, without splitting the strings.
 */
export function topicMatches(filter: string, topic: string): boolean {
  // [MQTT-4.7.2-1]: wildcards at the first level do not match topics starting with '$'.
  const first = filter.charCodeAt(0);
  if (topic.charCodeAt(0) === DOLLAR && (first === PLUS || first === HASH)) return false;
  const fl = filter.length;
  const tl = topic.length;
  let fi = 0; // start of the filter's current level
  let ti = 0; // start of the topic's current level; tl + 1 once the topic has no level left
  for (;;) {
    let fe = filter.indexOf("/", fi);
    if (fe < 0) fe = fl;
    const one = fe - fi === 1 ? filter.charCodeAt(fi) : 0;
    if (one === HASH) return true;
    if (ti > tl) return false;
    let te = topic.indexOf("/", ti);
    if (te < 0) te = tl;
    if (one !== PLUS) {
      if (te - ti !== fe - fi) return false;
      for (let k = 0; k < fe - fi; k++)
        if (filter.charCodeAt(fi + k) !== topic.charCodeAt(ti + k)) return false;
    }
    if (fe === fl) return te === tl;
    fi = fe + 1;
    ti = te + 1;
  }
}

/** True when every topic that `inner` matches is also matched by `outer`. */
export function filterCovers(outer: string, inner: string): boolean {
  if (inner.startsWith("$") && (outer.startsWith("+") || outer.startsWith("#"))) return false;
  const o = outer.split("/");
  const n = inner.split("/");
  for (let i = 0; i < o.length; i++) {
    const level = o[i]!;
    if (level === "#") return true;
    if (i >= n.length) return false;
    const other = n[i]!;
    if (other === "#") return false;
    if (level === "+") continue;
    if (other !== level) return false;
  }
  return o.length === n.length;
}

/** A compiled point topic: the plain filter to subscribe with, and what each named level binds. */
export interface TopicPattern {
  /** The pattern as written in the config. */
  source: string;
  /** The MQTT filter (named wildcards reduced to `+`). */
  filter: string;
  /** Level index -> name, for the `+name` levels. */
  names: Map<number, string>;
  /** No wildcard at all: matched by a map lookup. */
  exact: boolean;
}

export function compilePattern(source: string): TopicPattern {
  const names = new Map<number, string>();
  const levels = source.split("/").map((level, i) => {
    if (level.startsWith("+")) {
      if (level.length > 1) names.set(i, level.slice(1));
      return "+";
    }
    return level;
  });
  const filter = levels.join("/");
  return { source, filter, names, exact: !levels.some((l) => l === "+" || l === "#") };
}

/** The named levels of `topic` under `pattern`, or null when it does not match. */
export function bindPattern(pattern: TopicPattern, topic: string): Record<string, string> | null {
  if (!topicMatches(pattern.filter, topic)) return null;
  const out: Record<string, string> = {};
  if (pattern.names.size === 0) return out;
  const levels = topic.split("/");
  for (const [i, name] of pattern.names) out[name] = levels[i]!;
  return out;
}
