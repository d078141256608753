// The JSON Schema of a config file schema, for editors (yaml-language-server) and other tools.
import { z } from "./zod.cjs";
import { iggyProtocol } from "./schema.js";

export function configJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return {
    ...z.toJSONSchema(schema, {
      io: "input",
      unrepresentable: "any",
      target: "draft-7",
      override: (ctx) => {
        // YAML reads an unquoted 0.8 / 0.9 / 0.10 as a number; the loader accepts both spellings.
        if (ctx.zodSchema === iggyProtocol) {
          ctx.jsonSchema.anyOf = [{ enum: ["auto", "0.8", "0.9", "0.10"] }, { enum: [0.8, 0.9, 0.1] }];
          delete ctx.jsonSchema.type;
          delete ctx.jsonSchema.enum;
        }
      },
    }),
    $id: "https://github.com/iggy-edge/iggy-edge/config/schema.json",
    title: "iggy-edge configuration",
  };
}

export function configJsonSchemaText(schema: z.ZodType): string {
  return JSON.stringify(configJsonSchema(schema), null, 2) + "\n";
}
