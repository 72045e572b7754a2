import { defineConfig } from "vitest/config";

// Unit tests of pure code, beside it (`src/**/*.test.ts`), in plain Node: seconds, no workerd
// (`npm run test:unit`, part of `npm test`). Anything that needs D1, a Durable Object or a
// request through the app is tested in workerd (vitest.config.ts, test/).
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
