// The `coap:` section a file without one gets: one list for the schema's defaults (schema.ts) and the
// adapter, which has no schema loaded to ask (the adapter's type check and a test keep them one).
export const COAP_SECTION_DEFAULTS = {
  listen: "127.0.0.1:5683",
  max_request_bytes: 1024,
  source_rate: 1000,
  source_burst: 200,
  dedup_cache_bytes: 65_536,
  busy_max_age_s: 5,
} as const;
