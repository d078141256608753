// Writes config/schema.json from the zod schema (`npm run schema`); a test checks it is current.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { configJsonSchemaText } from "../config/json-schema.js";

const out = resolve(import.meta.dirname, "../../config/schema.json");
writeFileSync(out, configJsonSchemaText());
console.log(`wrote ${out}`);
