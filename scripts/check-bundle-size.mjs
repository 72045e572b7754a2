// Prints the size of the built Worker (what `npm run build` wrote to .wrangler/dist) and fails
// when it is over budget. A cold start downloads, parses and compiles this bundle, so growth
// should be a decision, not an accident: raise a budget here, in a commit that says why.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const KiB = 1024;
/** The budgets, in bytes (README "Development" cites them). Measured 977 KiB / 252 KiB in December 2026. */
const BUNDLE_BUDGET = { raw: 1200 * KiB, gzip: 320 * KiB };

const outdir = process.argv[2] ?? ".wrangler/dist";
// Modules wrangler uploads; source maps and its README stay on this machine.
const modules = existsSync(outdir)
  ? readdirSync(outdir, { recursive: true })
      .filter((name) => !name.endsWith(".map") && name !== "README.md")
      .filter((name) => statSync(join(outdir, name)).isFile())
  : [];
if (modules.length === 0) {
  console.error(`No built Worker in ${outdir}: run \`npm run build\` first.`);
  process.exit(1);
}

let raw = 0;
let gzip = 0;
for (const name of modules) {
  const bytes = readFileSync(join(outdir, name));
  raw += bytes.length;
  gzip += gzipSync(bytes).length;
}

const kib = (bytes) => `${(bytes / KiB).toFixed(1)} KiB`;
const line = (label, size, budget) =>
  `${label.padEnd(5)} ${kib(size).padStart(11)} of ${kib(budget)} (${((100 * size) / budget).toFixed(0)}%)`;
console.log(`Worker bundle (${modules.join(", ")}):`);
console.log(line("raw", raw, BUNDLE_BUDGET.raw));
console.log(line("gzip", gzip, BUNDLE_BUDGET.gzip));

const over = [
  raw > BUNDLE_BUDGET.raw && `raw ${kib(raw)} > ${kib(BUNDLE_BUDGET.raw)}`,
  gzip > BUNDLE_BUDGET.gzip && `gzip ${kib(gzip)} > ${kib(BUNDLE_BUDGET.gzip)}`,
].filter(Boolean);
if (over.length > 0) {
  console.error(`Worker bundle over budget: ${over.join("; ")} (budgets in scripts/check-bundle-size.mjs).`);
  process.exit(1);
}
