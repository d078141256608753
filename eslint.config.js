import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "gateway/codecs/generated/", "bench-results/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
      // Values from config/zod.cjs and protocols/prom-client.ts: they load less (see there).
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          paths: [
            { name: "zod", message: "import z from config/zod.cjs", allowTypeImports: true },
            { name: "prom-client", message: "import from protocols/prom-client.ts", allowTypeImports: true },
          ],
        },
      ],
    },
  },
  { files: ["config/zod.cts", "test/**"], rules: { "@typescript-eslint/no-restricted-imports": "off" } },
);
