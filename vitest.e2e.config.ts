import { defineConfig } from "vitest/config";

// End-to-end suite (`npm run test:e2e`, docs/demo.md): real Chromium against `wrangler dev`,
// in Node, separate from the Workers-runtime suite in vitest.config.ts.
export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.ts"],
    environment: "node",
    globalSetup: ["./e2e/support/global-setup.mjs"],
    // One browser and one server at a time: the machine is small and the files share the server.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 150_000,
  },
});
