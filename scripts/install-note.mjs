// npm runs this after `npm install` / `npm ci`. On Node 20 or 21, npm has just printed EBADENGINE
// warnings for wrangler and miniflare (they declare Node >= 22). They are harmless here: every npm
// script (and npx) runs on the project's own Node 24, the `node` devDependency. Say so right under
// them; on Node 22 and later there were no such warnings and this prints nothing.
const npmNode = /\bnode\/v(\d+)\./.exec(process.env.npm_config_user_agent ?? "");
if (npmNode && Number(npmNode[1]) < 22) {
  console.log(
    `note: the EBADENGINE warnings above (wrangler, miniflare and some of their dependencies want Node >= 22) are expected on Node ${npmNode[1]}:` +
      " npm scripts and npx run the project's pinned Node 24 (docs/troubleshooting.md).",
  );
}
