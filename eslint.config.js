import js from "@eslint/js";
import tseslint from "typescript-eslint";

// Values from config/zod.cjs and protocols/prom-client.ts: they load less (see there).
const RESTRICTED = [
  { name: "zod", message: "import z from config/zod.cjs", allowTypeImports: true },
  { name: "prom-client", message: "import from protocols/prom-client.ts", allowTypeImports: true },
];

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "gateway/codecs/generated/", "bench-results/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
      "@typescript-eslint/no-restricted-imports": ["error", { paths: RESTRICTED }],
    },
  },
  // What the running gateway's main thread loads takes no schema: its config comes validated from
  // a passing thread (gateway/config-thread.ts); types are free.
  {
    files: [
      "gateway/runtime.ts",
      "gateway/cli/run-command.ts",
      "protocols/registry.ts",
      "protocols/plugin.ts",
      "protocols/*/plugin.ts",
      "protocols/*/index.ts",
      "protocols/*/adapter.ts",
    ],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          paths: RESTRICTED,
          patterns: [
            {
              group: ["**/schema.js", "**/config-schema.js", "**/config.js", "**/load.js"],
              message: "the running gateway loads no schema (its config is validated in a passing thread)",
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  { files: ["config/zod.cts", "test/**"], rules: { "@typescript-eslint/no-restricted-imports": "off" } },
);
