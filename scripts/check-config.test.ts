import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDevConfig, parseDevArguments } from "./check-config";
import { generateSecrets } from "./secrets.mjs";

// A project directory with this repository's wrangler.toml and a .dev.vars like setup-local writes.
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "check-config-"));
  copyFileSync(join(import.meta.dirname, "..", "wrangler.toml"), join(dir, "wrangler.toml"));
  const secrets = await generateSecrets();
  writeDevVars({ ...secrets });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeDevVars(vars: Record<string, string>) {
  const lines = Object.entries(vars).map(([name, value]) => `${name}='${value}'`);
  writeFileSync(join(dir, ".dev.vars"), `${lines.join("\n")}\n`);
}

describe("the configuration check before wrangler dev", () => {
  it("passes the repository's own settings, as `npm run dev` and `npm run dev -- --port 8931` give them", async () => {
    expect(await checkDevConfig(["--var", "CONFORMANCE_API:true"], dir)).toEqual({ problems: [], warnings: [] });
    expect(await checkDevConfig(["--var", "CONFORMANCE_API:true", "--port", "8931"], dir)).toEqual({
      problems: [],
      warnings: [],
    });
  });

  it("refuses a --var written NAME=value, which wrangler would take as a variable named NAME=value", async () => {
    const { problems } = await checkDevConfig(["--var", "RATE_LIMIT_REQUESTS=5"], dir);
    expect(problems).toEqual([
      "--var RATE_LIMIT_REQUESTS=5: a --var is NAME:value (with a colon); did you mean --var RATE_LIMIT_REQUESTS:5?",
    ]);
  });

  it("names the variable, its value, where it came from and the allowed range", async () => {
    const { problems } = await checkDevConfig(["--var", "CHALLENGE_TTL_SECONDS:5", "--var=LOG_LEVEL:loud"], dir);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toBe('CHALLENGE_TTL_SECONDS = "5" (from --var): must be a whole number from 30 to 3600');
    expect(problems[1]).toMatch(/^LOG_LEVEL = "loud" \(from --var\): .*"debug"\|"info"\|"warn"\|"error"/);
  });

  it("checks cross-variable rules too: http://localhost:* needs RP_ID localhost", async () => {
    const { problems } = await checkDevConfig(["--var", "RP_ID:example.com"], dir);
    expect(problems).toEqual([
      expect.stringMatching(
        /^RP_ORIGINS = "http:\/\/localhost:\*" \(from wrangler.toml \[vars\]\): .*RP_ID = "localhost"/,
      ),
    ]);
  });

  it("checks .dev.vars, never printing a secret's value", async () => {
    const secrets = await generateSecrets();
    writeDevVars({ ...secrets, ADMIN_API_KEY: "too-short-admin-key" });
    try {
      const { problems } = await checkDevConfig([], dir);
      expect(problems).toEqual([
        "ADMIN_API_KEY = (secret, not shown) (from .dev.vars): must be at least 32 characters, or unset",
      ]);
    } finally {
      writeDevVars(secrets);
    }
  });

  it("warns about a --var that is no setting of this server", async () => {
    const { problems, warnings } = await checkDevConfig(["--var", "RP_ORIGIN:http://localhost:8931"], dir);
    expect(problems).toEqual([]);
    expect(warnings).toEqual(["--var RP_ORIGIN: not a setting of this server (a typo?)"]);
  });
});

describe("reading wrangler dev's arguments", () => {
  it("takes --var's values up to the next option, in every form wrangler accepts", () => {
    const parsed = parseDevArguments(["--var", "A:1", "B:2", "--port", "8931", "--var=C:3", "-e", "staging"]);
    expect(parsed).toEqual({ vars: ["A:1", "B:2", "C:3"], env: "staging", config: undefined, envFiles: [] });
  });
});
