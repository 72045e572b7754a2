import { defineConfig } from "vitest/config";

// Tests of the Node-side scripts (`npm run test:scripts`, part of `npm test`): the configuration
// check that `npm run dev` runs before wrangler starts. The Worker's own tests run in workerd
// (vitest.config.ts).
export default defineConfig({
  test: {
    include: ["scripts/**/*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
  },
});
