import { defineConfig } from "vitest/config";

// Unit tests of pure code, beside it under src/ (`npm run test:unit`): plain Node, no workerd.
// The Worker's own tests run in workerd (vitest.config.ts, test/ only).
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
