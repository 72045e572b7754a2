// Checks the settings `wrangler dev` is about to give the Worker (wrangler.toml [vars], .dev.vars
// or .env, and the `--var NAME:value` arguments) with the Worker's own schema (src/config/config.ts),
// so a bad value stops `npm run dev` with its name, value and allowed range instead of failing the
// first request. scripts/dev.ts runs it with the arguments it then hands to wrangler; on its own:
// `npx tsx scripts/check-config.ts [wrangler dev arguments]`.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { checkSettings, secretNames, settingNames } from "../src/config/config";

export type DevConfigReport = { problems: string[]; warnings: string[] };

/** What a `wrangler dev` command line says about vars, as wrangler reads it. */
type DevArguments = { vars: string[]; env: string | undefined; config: string | undefined; envFiles: string[] };

// Options of `wrangler dev` that take a value: their value is not mistaken for anything else.
const valueOptions: Record<string, keyof Omit<DevArguments, "vars">> = {
  "--env": "env",
  "-e": "env",
  "--config": "config",
  "-c": "config",
  "--env-file": "envFiles",
};

export function parseDevArguments(args: readonly string[]): DevArguments {
  const parsed: DevArguments = { vars: [], env: undefined, config: undefined, envFiles: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    const [flag = "", inline] = arg.startsWith("--") && arg.includes("=") ? splitOnce(arg, "=") : [arg, undefined];
    if (flag === "--var") {
      if (inline !== undefined) parsed.vars.push(inline);
      // An array option, like wrangler's: `--var A:1 B:2` takes every value up to the next option.
      else while (i + 1 < args.length && !args[i + 1]?.startsWith("-")) parsed.vars.push(args[++i] ?? "");
      continue;
    }
    const key = valueOptions[flag];
    if (key === undefined) continue;
    const value = inline ?? args[++i];
    if (value === undefined) continue;
    if (key === "envFiles") parsed.envFiles.push(value);
    else parsed[key] = value;
  }
  return parsed;
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return [text.slice(0, at), text.slice(at + separator.length)];
}

/** Reads the vars as wrangler does (its own loader), applies `--var`, and checks them. */
export async function checkDevConfig(args: readonly string[], cwd = process.cwd()): Promise<DevConfigReport> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const { vars: varArgs, env, config, envFiles } = parseDevArguments(args);

  const overrides: Record<string, string> = {};
  for (const entry of varArgs) {
    // Wrangler splits at the first ":"; `NAME=value` would silently become a variable named "NAME=value".
    const colon = entry.indexOf(":");
    const name = colon === -1 ? entry : entry.slice(0, colon);
    if (name.includes("=") || colon === -1) {
      const [suggestedName, suggestedValue] = entry.includes("=") ? splitOnce(entry, "=") : [entry, "value"];
      problems.push(
        `--var ${entry}: a --var is NAME:value (with a colon); did you mean --var ${suggestedName}:${suggestedValue}?`,
      );
      continue;
    }
    if (!settingNames.includes(name)) warnings.push(`--var ${name}: not a setting of this server (a typo?)`);
    overrides[name] = entry.slice(colon + 1);
  }

  const wrangler = await import("wrangler");
  const configPath = resolve(cwd, config ?? "wrangler.toml");
  const read = wrangler.unstable_readConfig({ config: configPath, env }, { hideWarnings: true });
  const bindings = wrangler.unstable_getVarsForDev(
    read.configPath,
    envFiles.length > 0 ? envFiles : undefined,
    read.vars,
    env,
    true,
    read.secrets,
  );
  const values: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  const tomlVars = env === undefined ? "wrangler.toml [vars]" : `wrangler.toml [env.${env}.vars]`;
  for (const [name, binding] of Object.entries(bindings)) {
    values[name] = binding.value;
    // Wrangler marks what it took from .dev.vars (or .env) as secret_text.
    sources[name] = binding.type === "secret_text" ? envFiles.join(", ") || ".dev.vars" : tomlVars;
  }
  for (const [name, value] of Object.entries(overrides)) {
    values[name] = value;
    sources[name] = "--var";
  }

  const checked = checkSettings(values);
  if (!checked.ok) {
    for (const { variable, message } of checked.problems) {
      const where = sources[variable] ?? (secretNames.includes(variable) ? ".dev.vars" : tomlVars);
      const shown = secretNames.includes(variable)
        ? values[variable] === undefined || values[variable] === ""
          ? "(not set)"
          : "(secret, not shown)"
        : JSON.stringify(values[variable] ?? null);
      problems.push(`${variable} = ${shown} (from ${where}): ${message}`);
    }
  }
  return { problems, warnings };
}

/** Prints the report; true when `wrangler dev` may start. */
export function printReport({ problems, warnings }: DevConfigReport): boolean {
  for (const warning of warnings) console.warn(`config: warning: ${warning}`);
  if (problems.length === 0) {
    console.log("config: settings checked");
    return true;
  }
  console.error("config: wrangler dev would start with settings the Worker refuses:");
  for (const problem of problems) console.error(`  - ${problem}`);
  console.error("Fix them in wrangler.toml [vars], .dev.vars or the --var arguments (docs/troubleshooting.md).");
  if (problems.some((problem) => problem.includes("missing secret"))) {
    console.error("A missing secret: delete .dev.vars and run `npm run dev` again to generate fresh local ones.");
  }
  return false;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!printReport(await checkDevConfig(process.argv.slice(2)))) process.exit(1);
}
