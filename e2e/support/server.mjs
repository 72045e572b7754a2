// Starts `wrangler dev` for the end-to-end suite: a free port, a fresh local D1/Durable Object
// state directory with the migrations applied, freshly generated secrets in a private env file,
// RP_ORIGINS/CORS_ORIGINS for that port, and generous rate limits unless told otherwise.
// stop() kills the whole process group (wrangler and its workerd) and deletes the state.
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { generateSecrets } from "../../scripts/secrets.mjs";

const STARTUP_TIMEOUT_MS = 120_000;
const wrangler = join(process.cwd(), "node_modules", ".bin", "wrangler");
/** wrangler dev's output stays here after the run (CI artifact next to the screenshots). */
const logDir = join(process.cwd(), "test-results", "e2e");

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * @param {{ vars?: Record<string, string> }} [options] extra `--var` values (e.g. tight rate limits)
 * @returns {Promise<{ origin: string, adminKey: string, logFile: string, stop: () => Promise<void> }>}
 */
export async function startServer({ vars = {} } = {}) {
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `wrangler-dev-${port}.log`);
  const secrets = await generateSecrets();
  const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };

  const stateDir = mkdtempSync(join(tmpdir(), "passkey-e2e-"));
  const envFile = join(stateDir, "secrets.env");
  try {
    const lines = Object.entries(secrets).map(([name, value]) => `${name}='${value}'`);
    writeFileSync(envFile, `${lines.join("\n")}\n`, { mode: 0o600 });
    await promisify(execFile)(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", stateDir], {
      env,
    });
  } catch (error) {
    // Nothing was started yet; the secrets must not outlive the failed run.
    rmSync(stateDir, { recursive: true, force: true });
    throw error;
  }

  const allVars = {
    RP_ID: "localhost",
    RP_ORIGINS: origin,
    CORS_ORIGINS: origin,
    RATE_LIMIT_REQUESTS: "100000",
    RATE_LIMIT_VERIFY_REQUESTS: "100000",
    // The API reference page, as `npm run dev` serves it (e2e/api-reference.e2e.ts).
    API_DOCS: "true",
    ...vars,
  };
  const args = ["dev", "--port", String(port), "--persist-to", stateDir, "--env-file", envFile];
  for (const [name, value] of Object.entries(allVars)) args.push("--var", `${name}:${value}`);
  args.push("--show-interactive-dev-session=false", "--live-reload=false");
  const log = openSync(logFile, "a");
  // Its own process group, so stop() reaches workerd too.
  const child = spawn(wrangler, args, { env, detached: true, stdio: ["ignore", log, log] });
  let exited = false;
  const exit = new Promise((resolve) => {
    const done = () => {
      exited = true;
      resolve(undefined);
    };
    child.once("exit", done);
    // It could not even be started (then "exit" never comes): the health wait below gives up.
    child.once("error", done);
  });

  async function stop() {
    if (!exited && child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // Already gone.
      }
      const killTimer = setTimeout(() => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }, 5_000);
      await exit;
      clearTimeout(killTimer);
    }
    rmSync(stateDir, { recursive: true, force: true });
  }
  // Last resort if the runner dies without calling stop().
  process.once("exit", () => {
    if (!exited && child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    rmSync(stateDir, { recursive: true, force: true });
  });

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) break;
    try {
      const response = await fetch(`${origin}/api/v1/health`);
      if (response.ok) return { origin, adminKey: secrets.ADMIN_API_KEY, logFile, stop };
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const output = readFileSync(logFile, "utf8");
  await stop();
  throw new Error(`wrangler dev did not become healthy on ${origin}:\n${output.slice(-4000)}`);
}
