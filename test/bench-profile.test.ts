import { describe, expect, it } from "vitest";
import { attribute, type CpuProfile, DURABLE_OBJECTS, moduleStarts, PROGRAM } from "../bench/profile";

// How `npm run bench` turns a V8 CPU profile of the isolate into CPU per module (bench/profile.ts).
const bundle = [
  "// src/app.ts", // line 0
  "function handle() {}",
  "// node_modules/@simplewebauthn/server/esm/verify.js", // line 2
  "function verify() {}",
  "// src/durable-objects/challenge-store.ts", // line 4
  "class ChallengeStore {}",
].join("\n");

const frame = (functionName: string, lineNumber = 0, scriptId = "1") => ({
  functionName,
  scriptId,
  url: scriptId === "1" ? "worker.js" : "",
  lineNumber,
});

describe("CPU per module from a profile (bench/profile.ts)", () => {
  it("finds where each module starts from esbuild's markers", () => {
    expect(moduleStarts(bundle)).toEqual([
      [0, "src/app.ts"],
      [2, "node_modules/@simplewebauthn/server/esm/verify.js"],
      [4, "src/durable-objects/challenge-store.ts"],
    ]);
  });

  it("counts each sample for the sampler's period, not the idle gap before it, and native frames for their caller", () => {
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame("(root)"), children: [2, 5, 6, 7] },
        { id: 2, callFrame: frame("handle", 1), children: [3] },
        { id: 3, callFrame: frame("verify", 3), children: [4] },
        // crypto.subtle.verify: native, no script: the library's time.
        { id: 4, callFrame: frame("verify", 0, "0") },
        { id: 5, callFrame: frame("take", 5) },
        { id: 6, callFrame: frame("(program)") },
        { id: 7, callFrame: frame("(idle)") },
      ],
      // Bursts 100 µs apart, then a 50 ms idle gap before the next burst.
      samples: [2, 3, 4, 4, 5, 6, 7, 2],
      timeDeltas: [100, 100, 100, 100, 100, 100, 100, 50_000],
    };
    const modules = new Map([["1", moduleStarts(bundle)]]);
    const totals = Object.fromEntries(
      [...attribute(profile, modules)].map(([k, ms]) => [k, Math.round(ms * 1000) / 1000]),
    );
    expect(totals).toEqual({
      "ours: routes, ceremonies, storage": 0.2,
      "library: @simplewebauthn/server (with its ASN.1, CBOR, X.509 parts)": 0.3,
      [DURABLE_OBJECTS]: 0.1,
      [PROGRAM]: 0.1,
    });
  });
});
