import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { generateSecrets } from "./scripts/secrets.mjs";

export default defineConfig({
  plugins: [
    cloudflareTest(async () => {
      const { ADMIN_API_KEY: _unused, ...secrets } = await generateSecrets();
      return {
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            ...secrets,
            RP_ID: "localhost",
            RP_ORIGINS: "http://localhost:8787",
            TEST_MIGRATIONS: await readD1Migrations("./migrations"),
          },
        },
      };
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./test/apply-migrations.ts"],
    // Request and security-event logs are printed only for failing tests.
    silent: "passed-only",
  },
});
