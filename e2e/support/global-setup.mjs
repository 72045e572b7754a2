// Vitest global setup for the end-to-end suite: builds the demo, starts one `wrangler dev`
// for all test files and hands its origin to them (`inject("origin")`); stops it afterwards,
// whether the tests passed or not.
import { rmSync } from "node:fs";
import { buildDemo } from "../../scripts/build-demo.mjs";
import { startServer } from "./server.mjs";

/** @param {import("vitest/node").TestProject} project */
export default async function setup(project) {
  rmSync("test-results/e2e", { recursive: true, force: true });
  await buildDemo();
  const server = await startServer();
  project.provide("origin", server.origin);
  project.provide("adminKey", server.adminKey);
  return server.stop;
}
