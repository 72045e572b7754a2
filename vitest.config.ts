import { accessSync, constants, statfsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { generateSecrets } from "./scripts/secrets.mjs";

// Wrangler reads wrangler.toml for the pool and would print, once per test file, where it found
// secrets ("Using secrets defined in .dev.vars") or that it found none: the tests bring their own
// (below). Errors still show. docs/troubleshooting.md lists what a passing run may print.
process.env.WRANGLER_LOG ??= "error";
// Nothing here reads request.cf: no fetch of workers.cloudflare.com/cf.json (offline runs stay quiet).
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";
// workerd keeps the tests' D1 database and every Durable Object (one per ceremony: thousands in
// a run) in SQLite files under Miniflare's temporary directory, and syncs each write to disk.
// Where the system has a roomy memory file system (Linux's /dev/shm), that directory goes there
// unless TMPDIR names another: a third less time for the whole suite on a small machine (114 s
// to 79 s measured on 2 cores, one worker), most in the fuzzers. Storage is still real SQLite,
// only not on a disk. A run peaks near 130 MB there; a container's /dev/shm (64 MB by default
// in Docker) is too small and is left alone.
if (!process.env.TMPDIR && hasRoom("/dev/shm", 1024 ** 3)) process.env.TMPDIR = "/dev/shm";

function hasRoom(directory: string, bytes: number): boolean {
  try {
    accessSync(directory, constants.W_OK);
    const { bavail, bsize } = statfsSync(directory);
    return bavail * bsize >= bytes;
  } catch {
    return false;
  }
}

export default defineConfig({
  plugins: [
    cloudflareTest(async () => {
      // ADMIN_API_KEY included: test/admin.test.ts calls the admin API with it.
      const secrets = await generateSecrets();
      return {
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            ...secrets,
            RP_ID: "localhost",
            RP_ORIGINS: "http://localhost:8787",
            // Test requests carry no CF-Connecting-IP, so the whole suite shares one limiter
            // bucket: give it room. test/rate-limit.test.ts sets its own limits and addresses.
            RATE_LIMIT_REQUESTS: "1000000",
            RATE_LIMIT_VERIFY_REQUESTS: "1000000",
            TEST_MIGRATIONS: await readD1Migrations("./migrations"),
          },
          // Miniflare's local Analytics Engine simulator: the metrics writer runs in every test.
          analyticsEngineDatasets: { ANALYTICS: { dataset: "passkey_events" } },
        },
      };
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./test/apply-migrations.ts"],
    // One workerd process per pool worker, reused from file to file, instead of one started for
    // each file (about 3 s each, most of the suite's time on a small machine). Files then share
    // D1 and Durable Object storage: every test makes its own users and client addresses, and
    // the migrations are applied once (applyD1Migrations skips what is applied).
    isolate: false,
    // At least two workers (two workerd processes, each with its own storage), where Vitest would
    // start one on a 2-core machine (cores - 1): much of a file's time is waiting on workerd's
    // storage and on the messages between workerd and Vitest, which the other worker fills
    // (measured on 2 cores, storage in memory: 79 s to 50 s). The longest files start first (Vitest's own order,
    // from its cache of the last run's durations).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // Request and security-event logs are printed only for failing tests.
    silent: "passed-only",
    // Only a guard against hangs, never a speed check: the coverage run is instrumented and CI
    // machines are small and shared, so a test that takes 1 s alone can take several.
    testTimeout: 20_000,
    // `npm run test:coverage`: the same suite, measuring src/. Istanbul instruments the code as
    // it is transformed; the v8 provider needs Node's inspector, which this pool offers to
    // workerd only from Vitest 5.
    coverage: {
      provider: "istanbul",
      include: ["src/**/*.ts"],
      // Unit tests beside the code run in Node (vitest.unit.config.ts), not here.
      exclude: ["src/**/*.test.ts"],
      reporter: ["text", "json-summary"],
      reportsDirectory: "coverage",
      // The floor: never below 90 % lines / 80 % branches, and otherwise the figures measured
      // last (3 December 2026, 1152 tests: lines 98.06, branches 87.76, functions 97.47,
      // statements 95.81), rounded down with room for run-to-run noise. It only ever rises:
      // docs/development.md.
      thresholds: { lines: 97.5, branches: 87.5, functions: 97, statements: 95.5 },
    },
  },
});
