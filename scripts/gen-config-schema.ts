// Writes config/schema.json from the zod schema that the protocol registry assembles (`npm run
// schema`); a test checks it is current.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { configJsonSchemaText } from "../config/json-schema.js";
import { configSchema } from "../protocols/config-schema.js";

const out = resolve(import.meta.dirname, "../../config/schema.json");
writeFileSync(out, configJsonSchemaText(configSchema));
console.log(`wrote ${out}`);
