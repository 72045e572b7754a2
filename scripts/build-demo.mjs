// Builds the demo web app (demo/) into public/, the Worker's static assets directory:
// copies the HTML, CSS, icons and the `_headers` file (CSP and other security headers) and
// bundles demo/src/main.ts with @simplewebauthn/browser into one script. Also copies the API
// reference page's script (src/routes/api-reference.ts) to public/api-reference/: Scalar's
// standalone bundle, several MB, is a static asset rather than part of the Worker. public/ is
// build output (gitignored); the dev, test, build and deploy npm scripts run this first.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
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
    // Not the sources, nor the server's type declarations the typed client is checked against.
    filter: (path) => !/[\\/](src|tsconfig\.json|\.api-types)$/.test(path),
  });
  const require = createRequire(import.meta.url);
  mkdirSync(`${output}/api-reference`, { recursive: true });
  cpSync(require.resolve("@scalar/api-reference/browser/standalone.js"), `${output}/api-reference/scalar.js`);
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
