// Checks the GitHub configuration that no local run exercises: every workflow is parsed and
// validated by GitHub's own workflow parser (@actions/workflow-parser, the one behind the
// Actions language server), every third-party action is pinned to a commit, and the Dependabot
// groups keep the rules docs/development.md states. Run with tsx (the parser imports its JSON
// schema without import attributes, which only a bundler accepts): `npm run lint`.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from "@actions/workflow-parser";
import { parse as parseYaml } from "yaml";

const problems = [];

const workflowDir = ".github/workflows";
const workflows = readdirSync(workflowDir).filter((name) => /\.ya?ml$/.test(name));
if (workflows.length === 0) problems.push(`no workflow in ${workflowDir}`);
for (const name of workflows) {
  const path = join(workflowDir, name);
  const content = readFileSync(path, "utf8");
  const parsed = parseWorkflow({ name: path, content }, new NoOperationTraceWriter());
  const template = await convertWorkflowTemplate(parsed.context, parsed.value);
  for (const error of template.errors ?? []) problems.push(error.Message);
  if ((template.jobs ?? []).length === 0) problems.push(`${path}: no jobs`);

  // A tag can be moved to other code after review; a commit cannot. Dependabot updates the pins.
  content.split("\n").forEach((line, index) => {
    const uses = /^\s*(?:-\s*)?uses:\s*["']?([^\s"'#]+)/.exec(line)?.[1];
    if (uses === undefined || uses.startsWith("./") || uses.startsWith("docker://")) return;
    if (!/@[0-9a-f]{40}$/.test(uses)) problems.push(`${path}:${index + 1}: ${uses} is not pinned to a commit`);
  });
}

const dependabotPath = ".github/dependabot.yml";
const dependabot = parseYaml(readFileSync(dependabotPath, "utf8"));
if (dependabot?.version !== 2) problems.push(`${dependabotPath}: version must be 2`);
const npmUpdates = (dependabot?.updates ?? []).find((update) => update["package-ecosystem"] === "npm");
if (npmUpdates === undefined) problems.push(`${dependabotPath}: no npm entry`);
else {
  const packageJson = JSON.parse(readFileSync("package.json", "utf8"));
  const dependencyType = (name) => (name in (packageJson.dependencies ?? {}) ? "production" : "development");
  const globMatches = (pattern, name) =>
    new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\/]/g, "\\$&").replaceAll("*", ".*")}$`).test(name);
  // Dependabot puts a dependency in the first group that matches it.
  const groupOf = (name) =>
    Object.entries(npmUpdates.groups ?? {}).find(
      ([, group]) =>
        (group.patterns ?? ["*"]).some((pattern) => globMatches(pattern, name)) &&
        !(group["exclude-patterns"] ?? []).some((pattern) => globMatches(pattern, name)) &&
        (group["dependency-type"] === undefined || group["dependency-type"] === dependencyType(name)),
    );

  const webauthn = groupOf("@simplewebauthn/server");
  if (webauthn === undefined || !webauthn[1].patterns?.every((pattern) => pattern.startsWith("@simplewebauthn/")))
    problems.push(`${dependabotPath}: @simplewebauthn/server must come in a group of its own family only`);

  const toolchain = ["wrangler", "workerd", "@cloudflare/vitest-plugin"].map((name) => [name, groupOf(name)?.[0]]);
  if (toolchain.some(([, group]) => group === undefined || group !== toolchain[0][1]))
    problems.push(
      `${dependabotPath}: wrangler, workerd and the vitest plugin must share one group (${toolchain.join("; ")})`,
    );
}

if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(
  `GitHub configuration: ${workflows.length} workflow(s) valid, actions pinned, Dependabot groups as documented.`,
);
