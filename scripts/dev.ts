// `npm run dev [-- wrangler dev arguments]`: checks the settings wrangler dev would start with
// (scripts/check-config.ts), then starts `wrangler dev` with exactly the same arguments.
// package.json runs scripts/setup-local.mjs first (.dev.vars and the local database).
import { spawn } from "node:child_process";
import { checkDevConfig, printReport } from "./check-config";

const args = process.argv.slice(2);
const report = await checkDevConfig(args).catch((error: unknown) => {
  // The check reads vars through wrangler's own (unstable) loader: if that ever changes, the
  // Worker still checks its settings on the first request, so the server starts regardless.
  console.warn(`config: could not check the settings before starting (${String(error)}); starting anyway`);
  return { problems: [], warnings: [] };
});
if (!printReport(report)) process.exit(1);

const wrangler = spawn("wrangler", ["dev", ...args], { stdio: "inherit", shell: process.platform === "win32" });
// Ctrl-C reaches wrangler directly (same terminal); this process waits for it to finish.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (signal !== "SIGINT") wrangler.kill(signal);
  });
}
wrangler.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
