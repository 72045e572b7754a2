// Builds the demo web app (demo/) into public/, the Worker's static assets directory:
// copies the HTML, CSS, icons and the `_headers` file (CSP and other security headers) and
// bundles demo/src/main.ts with @simplewebauthn/browser into one script. public/ is build
// output (gitignored); the dev, test, build and deploy npm scripts run this first.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const source = `${root}demo`;
const output = `${root}public`;

export async function buildDemo() {
  rmSync(output, { recursive: true, force: true });
  mkdirSync(output, { recursive: true });
  cpSync(source, output, {
    recursive: true,
    filter: (path) => !/[\\/](src|tsconfig\.json)$/.test(path),
  });
  await build({
    entryPoints: [`${source}/src/main.ts`],
    outfile: `${output}/app.js`,
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning",
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildDemo();
  console.log("demo: built public/ from demo/");
}
